package mqttlink

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/meshbox/meshbox/internal/atomicfile"
	"github.com/meshbox/meshbox/internal/sensor"
)

// Link is a running MQTT connection for one box. Create it with New and
// drive it with Run.
type Link struct {
	// Immutable after New.
	opts     Options
	hub      Hub
	log      *slog.Logger
	controls map[string]Control
	disco    []discoveryEntry

	// wake is signalled (never closed) when pending gains entries.
	wake chan struct{}
	// cmds carries received commands to the command worker; bounded.
	cmds chan command

	// setRetainHandling is the retain handling of the command
	// subscription: retainDoNotSend, 0 in tests of the retained-flag check.
	setRetainHandling byte

	// Guarded by mu.
	mu           sync.Mutex
	latest       map[string]message // newest payload per topic
	pending      map[string]bool    // topics not yet published since the last change or reconnect
	retainedSeen map[string]bool    // command topics a retained command was dropped from (logged once)
	up           bool               // broker connection is up
	stats        Stats
}

type message struct {
	payload []byte
	retain  bool
	once    bool // published once (errors): never repeated after a reconnect
}

type command struct {
	id       string
	payload  []byte
	haOnline bool // Home Assistant's birth message, not a command
}

// Stats are the link's counters.
type Stats struct {
	Connects    int
	Published   int
	Commands    int
	BadCommands int
	Dropped     int // commands dropped because the worker was busy
	Retained    int // retained commands ignored
	Subscribed  int // subscriptions acknowledged by the broker (one per connection)
}

// New prepares a link. controls lists everything to publish.
func New(opts Options, hub Hub, controls []Control, logger *slog.Logger) *Link {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	l := &Link{
		opts:     opts,
		hub:      hub,
		log:      logger.With("component", "mqtt", "broker", opts.URL.Redacted()),
		controls: make(map[string]Control, len(controls)),
		wake:     make(chan struct{}, 1),
		cmds:     make(chan command, 64),
		latest:   make(map[string]message),
		pending:  make(map[string]bool),

		setRetainHandling: retainDoNotSend,
		retainedSeen:      make(map[string]bool),
	}
	for _, c := range controls {
		l.controls[c.ID] = c
	}
	if opts.Discovery {
		l.disco = opts.discovery(controls)
	}
	return l
}

// Stats returns a copy of the counters.
func (l *Link) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Connected reports whether the broker connection is up.
func (l *Link) Connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

// Run connects and serves until ctx is done, then publishes "offline" and
// disconnects. It returns nil on a clean stop.
func (l *Link) Run(ctx context.Context) error {
	l.warnInsecure()
	// Subscribe first so no change is lost; a snapshot value only fills a
	// topic no change has set yet (a change seen already is newer).
	cancelSub := l.hub.Subscribe(func(id string, v any) { l.changed(id, v, false) })
	for id, v := range l.hub.Snapshot() {
		l.changed(id, v, true)
	}
	defer cancelSub()

	// The connection outlives ctx long enough to say "offline".
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	cm, err := autopaho.NewConnection(runCtx, l.clientConfig())
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.sendLoop(runCtx, cm) }()
	go func() { defer wg.Done(); l.commandLoop(runCtx) }()

	<-ctx.Done()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer stopCancel()
	if l.Connected() {
		if _, err := cm.Publish(stopCtx, &paho.Publish{Topic: l.opts.availabilityTopic(), Payload: []byte("offline"), QoS: 1, Retain: true}); err != nil {
			l.log.Warn("mqtt: could not publish offline", "err", err)
		}
	}
	_ = cm.Disconnect(stopCtx)
	cancel()
	wg.Wait()
	return nil
}

// changed queues a control's new value. A value not known yet (nil: a
// sensor before its first reading) is not published: an empty retained
// message would delete the state instead.
func (l *Link) changed(id string, v any, ifAbsent bool) {
	ctl, ok := l.controls[id]
	if !ok || v == nil {
		return
	}
	if f, isFloat := v.(float64); isFloat && ctl.Resolution > 0 {
		v = sensor.Round(f, ctl.Resolution)
	}
	topic := l.opts.stateTopic(id)
	l.mu.Lock()
	if _, seen := l.latest[topic]; seen && ifAbsent {
		l.mu.Unlock()
		return
	}
	l.latest[topic] = message{payload: formatValue(v), retain: l.opts.Retain}
	l.pending[topic] = true
	l.mu.Unlock()
	l.signal()
}

func (l *Link) clientConfig() autopaho.ClientConfig {
	o := l.opts
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{o.URL},
		TlsCfg:                        o.TLS,
		KeepAlive:                     20,
		CleanStartOnInitialConnection: true,
		ConnectTimeout:                5 * time.Second,
		ReconnectBackoff:              l.backoff,
		ConnectUsername:               o.Username,
		WillMessage:                   &paho.WillMessage{Topic: o.availabilityTopic(), Payload: []byte("offline"), QoS: 1, Retain: true},
		OnConnectionUp:                l.connectionUp,
		OnConnectionDown: func() bool {
			l.mu.Lock()
			l.up = false
			l.mu.Unlock()
			l.log.Warn("mqtt broker connection lost; keeping newest state until it is back")
			return true
		},
		OnConnectError: func(err error) {
			if hint := connectHint(err, o.TLS); hint != "" {
				l.log.Warn("mqtt connect failed", "err", err, "hint", hint)
				return
			}
			l.log.Warn("mqtt connect failed", "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID: o.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					l.received(pr.Packet)
					return true, nil
				},
			},
		},
	}
	if o.Password != "" {
		cfg.ConnectPassword = []byte(o.Password)
	}
	return cfg
}

// backoff doubles from MinBackoff to MaxBackoff with ±20 % jitter.
func (l *Link) backoff(attempt int) time.Duration {
	d := l.opts.MinBackoff
	for i := 0; i < attempt && d < l.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, l.opts.MaxBackoff)
	if attempt == 0 {
		return 0
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func (l *Link) connectionUp(cm *autopaho.ConnectionManager, _ *paho.Connack) {
	l.mu.Lock()
	l.up = true
	l.stats.Connects++
	l.mu.Unlock()
	// The broker may have lost retained messages: publish everything again.
	l.republishAll()
	l.log.Info("mqtt broker connected", "base", l.opts.Base)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: l.subscriptions()}); err != nil {
			l.log.Warn("mqtt subscribe failed", "err", err)
			return
		}
		l.mu.Lock()
		l.stats.Subscribed++
		l.mu.Unlock()
	}()
	l.set(l.opts.availabilityTopic(), []byte("online"), true)
	if l.opts.Discovery {
		l.queueDiscovery()
	}
	l.signal()
}

// queueDiscovery queues every discovery config and an empty retained
// message for each topic published before that is no longer configured.
func (l *Link) queueDiscovery() {
	current := make(map[string]bool, len(l.disco))
	for _, d := range l.disco {
		current[d.Topic] = true
		l.set(d.Topic, d.Payload, true)
	}
	for _, old := range l.loadDiscoveryState() {
		if !current[old] {
			l.set(old, nil, true)
			l.log.Info("mqtt discovery entry removed", "topic", old)
		}
	}
	l.saveDiscoveryState(current)
}

func (l *Link) loadDiscoveryState() []string {
	if l.opts.StateFile == "" {
		return nil
	}
	b, err := os.ReadFile(l.opts.StateFile)
	if err != nil {
		return nil
	}
	var topics []string
	if err := json.Unmarshal(b, &topics); err != nil {
		l.log.Warn("mqtt discovery state unreadable; ignoring it", "file", l.opts.StateFile, "err", err)
		return nil
	}
	return topics
}

func (l *Link) saveDiscoveryState(current map[string]bool) {
	if l.opts.StateFile == "" {
		return
	}
	topics := make([]string, 0, len(current))
	for t := range current {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	b, _ := json.Marshal(topics)
	if err := atomicfile.WriteFile(l.opts.StateFile, b, 0o644); err != nil {
		l.log.Warn("mqtt discovery state not saved", "err", err)
	}
}

// set records the newest payload for a topic and wakes the sender. It never
// blocks.
func (l *Link) set(topic string, payload []byte, retain bool) {
	l.mu.Lock()
	l.latest[topic] = message{payload: payload, retain: retain}
	l.pending[topic] = true
	l.mu.Unlock()
	l.signal()
}

func (l *Link) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// sendLoop publishes pending topics while the broker is up.
func (l *Link) sendLoop(ctx context.Context, cm *autopaho.ConnectionManager) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		for {
			if err := cm.AwaitConnection(ctx); err != nil {
				return
			}
			topic, msg, ok := l.next()
			if !ok {
				break
			}
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := cm.Publish(pctx, &paho.Publish{Topic: topic, Payload: msg.payload, QoS: l.opts.QoS, Retain: msg.retain})
			cancel()
			if err != nil {
				// Keep it pending; the next connection publishes it.
				l.mu.Lock()
				l.pending[topic] = true
				l.mu.Unlock()
				if ctx.Err() != nil {
					return
				}
				l.log.Debug("mqtt publish failed; will retry", "topic", topic, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(200 * time.Millisecond):
				}
				continue
			}
			l.mu.Lock()
			l.stats.Published++
			if cur, ok := l.latest[topic]; ok && cur.once && !l.pending[topic] {
				delete(l.latest, topic) // sent: an error is not repeated
			}
			l.mu.Unlock()
		}
	}
}

// next takes one pending topic, availability first so subscribers see the
// box online before its states.
func (l *Link) next() (string, message, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	av := l.opts.availabilityTopic()
	if l.pending[av] {
		delete(l.pending, av)
		return av, l.latest[av], true
	}
	for t := range l.pending {
		delete(l.pending, t)
		return t, l.latest[t], true
	}
	return "", message{}, false
}
