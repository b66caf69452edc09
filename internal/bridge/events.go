package bridge

import (
	"sync"
	"sync/atomic"
	"time"
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	EventState       EventKind = iota + 1 // an output or input value (changed, or re-sent after a refused command): ID, Value, V
	EventInput                            // an input edge: ID, Edge ("rising"|"falling")
	EventMetrics                          // one sensor/serial reading: Source, Fields
	EventSensorError                      // a read failed: Source, Err, RetryMs
	EventSnapshot                         // a control_snapshot was sent: To, V, Controls
	EventAck                              // a command_ack: CmdID, To, OK, Err
	EventNotify                           // a notification: Text, Source (automations)
	EventLinked                           // the linked boxes changed (LinkedBoxes): a member sends box_hub
	maxEventKind
)

var kindNames = [...]string{"", "state", "input", "metrics", "sensor_error", "snapshot", "ack", "notify", "linked"}

func (k EventKind) String() string {
	if int(k) < len(kindNames) && k > 0 {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one thing the bridge did or saw. Maps are shared between
// subscribers: READ ONLY.
type Event struct {
	Kind     EventKind
	Time     time.Time
	V        uint64         // snapshot version after the change
	ID       string         // control id (state, input)
	Value    any            // bool | float64 | string | nil
	Edge     string         // input: "rising" | "falling"
	Source   string         // sensor/serial id (metrics, sensor_error), rule id (notify)
	Fields   map[string]any // metrics: field -> float64|bool|string (READ ONLY)
	Err      string         // sensor_error, ack (ok:false)
	RetryMs  int64          // sensor_error
	To       string         // snapshot, ack
	CmdID    string         // ack
	OK       bool           // ack
	Controls map[string]any // snapshot (READ ONLY)
	Text     string         // notify
}

// SubscribeOptions tune one subscription.
type SubscribeOptions struct {
	// Kinds selects the kinds delivered (nil or empty: all).
	Kinds []EventKind
	// Queue bounds the events waiting for the subscriber (default
	// DefaultQueue). See Subscribe for what happens when it is full.
	Queue int
}

// DefaultQueue is a subscription's queue bound when SubscribeOptions.Queue
// is 0.
const DefaultQueue = 256

// maxPending bounds the publisher's intake (events emitted and not yet
// handed to the subscriptions); the publisher is never slow, so this is a
// guard, not a working limit.
const maxPending = 8192

// Subscription is one subscriber's bounded queue of events. Read C until
// it is closed (the bridge shut down) or call Close.
type Subscription struct {
	name  string
	kinds uint32 // bit k set: kind k wanted; 0 = all
	max   int
	pub   *publisher
	c     chan Event
	wake  chan struct{} // cap 1
	done  chan struct{} // closed by Close
	ended chan struct{} // closed by the pump

	dropped   atomic.Uint64
	closeOnce sync.Once

	mu    sync.Mutex
	q     []Event // guarded by mu
	final bool    // guarded by mu: the publisher ended; close C once q is drained
}

// C delivers the events in order. It is closed after Shutdown (once the
// queue is drained) or by Close.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped counts events that were not delivered because the subscriber
// fell behind (superseded states included).
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Name is the subscriber's name (logs, metrics).
func (s *Subscription) Name() string { return s.name }

// Close stops delivery and releases the subscription; C is closed. It may
// be called more than once, from any goroutine, also while reading C.
func (s *Subscription) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.pub.remove(s)
	})
	<-s.ended
}

func (s *Subscription) wants(k EventKind) bool { return s.kinds == 0 || s.kinds&(1<<k) != 0 }

// push queues ev, evicting an older event when the queue is full. It never
// blocks.
func (s *Subscription) push(ev Event) {
	if !s.wants(ev.Kind) {
		return
	}
	s.mu.Lock()
	if len(s.q) >= s.max {
		s.evictLocked(ev)
		s.dropped.Add(1)
	}
	s.q = append(s.q, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// evictLocked removes one queued event to make room for in: an older state
// of the same control (latest wins), else the oldest metrics reading, else
// the oldest state superseded later in the queue, else the oldest event.
func (s *Subscription) evictLocked(in Event) {
	victim := -1
	if in.Kind == EventState {
		for i, e := range s.q {
			if e.Kind == EventState && e.ID == in.ID {
				victim = i
				break
			}
		}
	}
	if victim < 0 {
		for i, e := range s.q {
			if e.Kind == EventMetrics {
				victim = i
				break
			}
		}
	}
	if victim < 0 {
		last := make(map[string]int, len(s.q))
		for i, e := range s.q {
			if e.Kind == EventState {
				last[e.ID] = i
			}
		}
		for i, e := range s.q {
			if e.Kind == EventState && last[e.ID] != i {
				victim = i
				break
			}
		}
	}
	if victim < 0 {
		victim = 0
	}
	copy(s.q[victim:], s.q[victim+1:])
	s.q[len(s.q)-1] = Event{}
	s.q = s.q[:len(s.q)-1]
}

// pump hands queued events to C, one at a time, until Close or, after the
// publisher ended, until the queue is drained.
func (s *Subscription) pump() {
	defer close(s.ended)
	defer close(s.c)
	for {
		s.mu.Lock()
		for len(s.q) == 0 {
			if s.final {
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			select {
			case <-s.wake:
			case <-s.done:
				return
			}
			s.mu.Lock()
		}
		ev := s.q[0]
		s.q[0] = Event{}
		s.q = s.q[1:]
		s.mu.Unlock()
		select {
		case s.c <- ev:
		case <-s.done:
			return
		}
	}
}

// end marks the subscription final: C closes once the queue is drained.
func (s *Subscription) end() {
	s.mu.Lock()
	s.final = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// publisher is the bridge's one event goroutine: emit appends to its
// intake (never blocking), run hands each event to every subscription.
type publisher struct {
	wake chan struct{} // cap 1
	stop chan struct{} // closed by close
	done chan struct{} // closed when run returns

	stopOnce sync.Once
	lost     atomic.Uint64 // events dropped at the intake (never in practice)

	mu     sync.Mutex
	in     []Event                    // guarded by mu
	subs   map[*Subscription]struct{} // guarded by mu
	closed bool                       // guarded by mu
}

func newPublisher() *publisher {
	p := &publisher{
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		subs: make(map[*Subscription]struct{}),
	}
	go p.run()
	return p
}

// emit queues ev for the subscribers. It never blocks and may be called
// with any bridge lock held (it takes only the publisher's own mutex).
func (p *publisher) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	p.mu.Lock()
	if p.closed || len(p.subs) == 0 {
		p.mu.Unlock()
		return
	}
	if len(p.in) >= maxPending {
		p.mu.Unlock()
		p.lost.Add(1)
		return
	}
	p.in = append(p.in, ev)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *publisher) run() {
	defer close(p.done)
	var batch []Event
	var subs []*Subscription
	for {
		stopping := false
		select {
		case <-p.wake:
		case <-p.stop:
			stopping = true
		}
		p.mu.Lock()
		batch, p.in = p.in, batch[:0]
		subs = subs[:0]
		for s := range p.subs {
			subs = append(subs, s)
		}
		if stopping {
			p.closed = true
		}
		p.mu.Unlock()
		for _, ev := range batch {
			for _, s := range subs {
				s.push(ev)
			}
		}
		clear(batch)
		if stopping {
			for _, s := range subs {
				s.end()
			}
			return
		}
	}
}

// close delivers what was emitted, then ends every subscription (their C
// closes once drained). Later emits are dropped.
func (p *publisher) close() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

func (p *publisher) add(name string, opts SubscribeOptions) *Subscription {
	s := &Subscription{
		name:  name,
		max:   opts.Queue,
		pub:   p,
		c:     make(chan Event),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		ended: make(chan struct{}),
	}
	if s.max <= 0 {
		s.max = DefaultQueue
	}
	for _, k := range opts.Kinds {
		if k > 0 && k < maxEventKind {
			s.kinds |= 1 << k
		}
	}
	p.mu.Lock()
	if p.closed {
		s.final = true
	} else {
		p.subs[s] = struct{}{}
	}
	p.mu.Unlock()
	go s.pump()
	return s
}

func (p *publisher) remove(s *Subscription) {
	p.mu.Lock()
	delete(p.subs, s)
	p.mu.Unlock()
}

// Subscribe returns a bounded queue of the bridge's events, fed by one
// publisher goroutine. A slow subscriber never slows the hardware: when
// its queue is full, an older state of the same control is replaced
// (latest wins), else the oldest metrics reading is dropped, else the
// oldest superseded state, else the oldest event; Dropped counts them.
// name identifies the subscriber in logs. Close releases it; C is closed
// after Shutdown once the queue is drained.
func (b *Bridge) Subscribe(name string, opts SubscribeOptions) *Subscription {
	return b.pub.add(name, opts)
}

// Notify publishes a notification (EventNotify) to the subscribers; source
// names who raised it (an automation rule id).
func (b *Bridge) Notify(source, text string) {
	b.pub.emit(Event{Kind: EventNotify, Source: source, Text: text})
}
