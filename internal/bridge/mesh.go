package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/wire"
	"github.com/meshbox/meshbox/meshsocket"
)

// DefaultMemberQueue bounds the events waiting to be sent by one member.
const DefaultMemberQueue = 1024

// JoinOptions says how the bridge joins a relay.
type JoinOptions struct {
	// Dial opens a transport (the embedded relay's Pipe). Without Dial,
	// URL is dialled as a WebSocket (an upstream relay).
	Dial func(ctx context.Context) (wire.Transport, error)
	URL  string
	// Name and Channel are the member's identity; empty takes the
	// bridge's (Settings.Name, Settings.Channel).
	Name    string
	Channel string
	Token   string
	Logger  *slog.Logger
	// Prefix is put in front of every control id in the frames this member
	// sends and in its routed replies ("" for none; an upstream link uses
	// "<name>.").
	Prefix string
	// Queue bounds the events waiting to be sent (DefaultMemberQueue).
	Queue int
	// Client adjusts the meshsocket options before the client is built
	// (TLS, backoff, OnDisconnect); may be nil.
	Client func(*meshsocket.Options)
	// Cipher, when set, makes the member speak an encrypted room (config
	// e2ee: true): every frame it sends is sealed, its routed replies too,
	// and it acts only on broadcast and routed payloads that open with the
	// room key; anything else is dropped (counted by the Cipher).
	Cipher Cipher
	// Tabs are this box's layout tabs (JSON array, ids already prefixed)
	// for the box_announce of a prefixed member: the hub merges them into
	// its layout. nil sends none.
	Tabs json.RawMessage
}

// Join connects the bridge to a relay as a MeshSocket member (role hub,
// broadcast, route and monitor rights, broadcast_scope "channel") and
// starts it in the background. The member sends the bridge's events (one
// goroutine writes, from a bounded subscription: a slow relay never slows
// the hardware) and a control_snapshot after every admission, so state
// reaches a relay joined late or re-joined. Broadcast commands go to the
// bridge's intake (Receive), which never makes the reader wait; routed
// commands are answered by HandleRouted. Join waits for the first
// admission until ctx is done; a failure there is logged and retried in
// the background. Close the returned Member to leave.
func (b *Bridge) Join(ctx context.Context, jo JoinOptions) (*Member, error) {
	name, channel := jo.Name, jo.Channel
	if name == "" {
		name = b.cfg.Name
	}
	if name == "" {
		name = config.DefaultName
	}
	if channel == "" {
		channel = b.cfg.Channel
	}
	if channel == "" {
		channel = config.DefaultChannel
	}
	log := jo.Logger
	if log == nil {
		log = b.log
	}
	queue := jo.Queue
	if queue <= 0 {
		queue = DefaultMemberQueue
	}
	m := &Member{
		b: b, prefix: jo.Prefix, name: name, log: log, cipher: jo.Cipher,
		joined:   make(chan struct{}),
		tabs:     jo.Tabs,
		resync:   make(chan struct{}, 1),
		fwd:      make(chan json.RawMessage, fwdQueue),
		upstream: jo.URL != "",
		offSince: time.Now(),
	}
	opts := meshsocket.Options{
		URL:            jo.URL,
		Dial:           jo.Dial,
		Name:           name,
		Token:          jo.Token,
		Channel:        channel,
		Role:           "hub",
		BroadcastScope: "channel",
		CanBroadcast:   meshsocket.Bool(true),
		CanRoute:       meshsocket.Bool(true),
		CanMonitor:     meshsocket.Bool(true),
		MaxInflight:    16,
		Logger:         log,
		OnConnect: func(id string) {
			log.Info("bridge joined the mesh", "name", name, "channel", channel, "id", id)
		},
	}
	if jo.Client != nil {
		jo.Client(&opts)
	}
	// Health and the snapshot after admission do not depend on what
	// jo.Client did with the callbacks.
	onConnect, onDisconnect := opts.OnConnect, opts.OnDisconnect
	opts.OnConnect = func(id string) {
		m.setOnline(true)
		if onConnect != nil {
			onConnect(id)
		}
	}
	opts.OnDisconnect = func(err error) {
		m.setOnline(false)
		if onDisconnect != nil {
			onDisconnect(err)
		}
	}
	c, err := meshsocket.New(opts)
	if err != nil {
		return nil, fmt.Errorf("bridge: join: %w", err)
	}
	if len(m.tabs) > MaxLinkedTabs {
		log.Warn("bridge: the layout is too large to announce to the hub; it shows no controls of this box", "bytes", len(m.tabs), "max", MaxLinkedTabs)
		m.tabs = nil
	}
	if m.tabs != nil {
		m.tabsV = tabsVersion(m.tabs)
	}
	m.Client = c
	c.On("broadcast", func(_ context.Context, f wire.Frame) (any, error) {
		if p, ok := m.open("broadcast", f.Payload); ok && !m.hubbed(p, time.Now()) {
			b.receiveFrom(m, p)
		}
		return nil, nil
	})
	c.On("server_client_list", func(_ context.Context, f wire.Frame) (any, error) {
		if b.linked.rosterVia(f.Payload, m) { // a linked box that left is unavailable at once
			b.linkedChanged()
		}
		return nil, nil
	})
	for _, t := range b.RoutedTypes() {
		c.On(t, func(ctx context.Context, f wire.Frame) (any, error) {
			p, ok := m.open(t, f.Payload)
			if !ok {
				return nil, nil
			}
			if r := b.HandleRouted(ctx, t, p); r != nil {
				return m.seal(m.prefixReply(r))
			}
			return nil, nil
		})
	}
	m.sub = b.Subscribe("member "+name, SubscribeOptions{Queue: queue})
	b.addMember(m)
	sctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.send(sctx) }()
	if err := c.Start(ctx); err != nil {
		if errors.Is(err, context.Canceled) { // the box is stopping: nothing to report
			log.Debug("bridge: join cancelled", "err", err)
		} else {
			log.Warn("bridge: not admitted yet; retrying in the background", "err", err)
		}
	}
	return m, nil
}

// Member is the bridge's membership in one relay.
type Member struct {
	*meshsocket.Client
	b      *Bridge
	sub    *Subscription
	prefix string
	name   string
	cipher Cipher // nil: clear text
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	resync chan struct{}   // cap 1: send a snapshot (after an admission)
	joined chan struct{}   // closed at the first admission
	tabs   json.RawMessage // set at Join, read-only: the announced layout tabs
	tabsV  string          // their fingerprint
	// upstream: joined by URL (an upstream link), not the box's own relay.
	upstream bool
	fwd      chan json.RawMessage // cap fwdQueue: payloads forwarded to this relay (relayed.go); never closed

	mu       sync.Mutex
	online   bool      // guarded by mu
	offSince time.Time // guarded by mu: when it last left the mesh (or was created)
	everOn   bool      // guarded by mu
	hubUntil time.Time // guarded by mu: a hub aggregates this box until then (box_hub)
}

func (m *Member) setOnline(on bool) {
	m.mu.Lock()
	m.online = on
	if on && !m.everOn {
		m.everOn = true
		close(m.joined)
	}
	if !on {
		m.offSince = time.Now()
	}
	m.mu.Unlock()
	if on {
		select {
		case m.resync <- struct{}{}:
		default:
		}
	}
}

// Joined is closed when the member is admitted for the first time.
func (m *Member) Joined() <-chan struct{} { return m.joined }

// Healthy reports an error when the member has been off the mesh (not
// admitted) for longer than grace.
func (m *Member) Healthy(grace time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.online {
		return nil
	}
	if off := time.Since(m.offSince); off > grace {
		if !m.everOn {
			return fmt.Errorf("the bridge has not joined the relay (%s)", off.Round(time.Second))
		}
		return fmt.Errorf("the bridge has been off the mesh for %s", off.Round(time.Second))
	}
	return nil
}

// Dropped counts events this member did not send because it fell behind.
func (m *Member) Dropped() uint64 { return m.sub.Dropped() }

// send is the member's one writer of bridge frames: events in order, a
// control_snapshot after each admission, and every AnnounceEvery the
// box_announce of a linked box or the box_hub of a hub.
func (m *Member) send(ctx context.Context) {
	tick := time.NewTicker(AnnounceEvery)
	defer tick.Stop()
	ticks := 0
	for {
		select {
		case <-m.resync:
			m.announce(ctx, true)
			v, controls := m.b.linkedSnapshot()
			m.write(ctx, Event{Kind: EventSnapshot, V: v, Controls: controls})
			m.write(ctx, Event{Kind: EventLinked})
		case <-tick.C:
			ticks++
			m.announce(ctx, ticks%TabsEvery == 0)
			if m.b.linked.expire(time.Now()) {
				m.b.linkedChanged() // sends box_hub too
			} else {
				m.write(ctx, Event{Kind: EventLinked})
			}
		case ev, ok := <-m.sub.C():
			if !ok {
				return
			}
			m.write(ctx, ev)
		case p := <-m.fwd:
			m.writeRaw(ctx, p)
		}
	}
}

func (m *Member) write(ctx context.Context, ev Event) {
	payload, ok := m.b.Frame(ev, m.prefix)
	if !ok {
		return
	}
	m.broadcast(ctx, ev.Kind.String(), payload)
}

// writeRaw sends a payload forwarded from another relay (relayed.go).
func (m *Member) writeRaw(ctx context.Context, p json.RawMessage) {
	m.broadcast(ctx, "forwarded", p)
}

// broadcast seals payload for this relay and sends it as a
// broadcast_request; what names it in the logs.
func (m *Member) broadcast(ctx context.Context, what string, payload any) {
	sealed, err := m.seal(payload)
	if err != nil {
		m.log.Error("bridge: cannot seal a frame; not sent", "kind", what, "err", err)
		return
	}
	if err := m.Client.Send(ctx, "broadcast_request", sealed); err != nil && ctx.Err() == nil {
		m.log.Debug("bridge: frame not sent", "kind", what, "err", err)
	}
}

// prefixReply prefixes the control ids of a routed reply ("target",
// "values" keys).
func (m *Member) prefixReply(r any) any {
	rep, ok := r.(map[string]any)
	if !ok || m.prefix == "" {
		return r
	}
	if t, ok := rep["target"].(string); ok && t != "" {
		rep["target"] = m.prefix + t
	}
	if vals, ok := rep["values"].(map[string]any); ok {
		rep["values"] = prefixKeys(vals, m.prefix)
	}
	return rep
}

// Close stops sending, then closes the client (leaving the relay).
func (m *Member) Close() error {
	m.b.removeMember(m)
	m.sub.Close()
	m.cancel()
	m.wg.Wait()
	return m.Client.Close()
}

// open returns what the member acts on: the payload itself, or in an
// encrypted room its plaintext (ok false: ignore the frame).
func (m *Member) open(what string, payload json.RawMessage) (json.RawMessage, bool) {
	if m.cipher == nil {
		return payload, true
	}
	return m.cipher.Open(what, payload)
}

// seal returns what the member sends for v: v itself, or in an encrypted
// room its envelope.
func (m *Member) seal(v any) (any, error) {
	if m.cipher == nil {
		return v, nil
	}
	return m.cipher.Seal(v)
}
