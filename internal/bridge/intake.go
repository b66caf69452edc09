package bridge

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// intakeQueue bounds the mesh commands waiting to be applied; a command
// arriving when it is full is refused (ErrBusy) at once.
const intakeQueue = 64

var (
	errIntakeFull = fmt.Errorf("%w: too many commands waiting", ErrBusy)
	errTooLate    = fmt.Errorf("%w: not applied within %s", ErrBusy, applyWithin)
)

// intake takes the commands of the mesh members without ever making the
// reader wait: it decodes a frame, answers control_sync_request and
// all_off at once (ahead of everything), and queues other commands for one
// worker. A command that waited longer than applyWithin is refused instead
// of moving a pin late; all_off cancels every command received before it
// that has not changed an output yet (queued, or waiting for its output's
// lock), from any member or Apply.
type intake struct {
	b    *Bridge
	q    chan queuedCmd
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

type queuedCmd struct {
	m   inMsg
	mt  string
	at  time.Time
	gen uint64 // the all_off generation it arrived in (Bridge.offGen)
}

func newIntake(b *Bridge) *intake {
	in := &intake{b: b, q: make(chan queuedCmd, intakeQueue), quit: make(chan struct{}), done: make(chan struct{})}
	go in.run()
	return in
}

// Receive takes the payload of a broadcast frame from a mesh member. It
// never blocks: commands are queued for the bridge's worker (refused with
// ErrBusy when the queue is full); all_off and control_sync_request are
// handled at once, ahead of any queued command.
func (b *Bridge) Receive(payload json.RawMessage) { b.receiveFrom(nil, payload) }

// receiveFrom is Receive for a payload member from heard (nil: not from a
// member): linked boxes' frames are recorded and, for a hub on a plain
// relay, forwarded between relays (relayed.go).
func (b *Bridge) receiveFrom(from *Member, payload json.RawMessage) {
	m, mt, ok := parseCommand(payload)
	if !ok {
		return
	}
	switch {
	case mt == "box_announce":
		b.heardAnnounce(m, from)
	case b.crossing(from, m, mt, payload):
		// a linked box's frame, or its command: the box applies and acks it
	case mt == "control_sync_request":
		b.SendSnapshot(m.str("from"))
	case b.closing.Load():
		b.ack(m, ErrClosed)
	case mt == "command" && m.str("command") == "all_off":
		b.ack(m, b.AllOff(b.base))
	default:
		select {
		case b.intake.q <- queuedCmd{m: m, mt: mt, at: time.Now(), gen: b.offGen.Load()}:
		default:
			b.ack(m, errIntakeFull)
		}
	}
}

func (in *intake) run() {
	defer close(in.done)
	b := in.b
	for {
		select {
		case <-in.quit:
			for {
				select {
				case c := <-in.q:
					b.ack(c.m, ErrClosed)
				default:
					return
				}
			}
		case c := <-in.q:
			switch {
			case c.gen != b.offGen.Load():
				b.ack(c.m, errAllOff)
			case time.Since(c.at) > applyWithin:
				b.ack(c.m, errTooLate)
			default:
				_, err := b.execute(b.base, c.mt, c.m, c.gen)
				b.ack(c.m, err)
			}
		}
	}
}

// stop ends the worker; queued commands are answered ErrClosed.
func (in *intake) stop() {
	in.once.Do(func() { close(in.quit) })
	<-in.done
}
