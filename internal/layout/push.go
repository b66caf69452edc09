package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Requester sends a relay request and returns the reply payload; the
// meshsocket client's Request has this shape.
type Requester interface {
	Request(ctx context.Context, typ string, payload any) (json.RawMessage, error)
}

// Member is one roster entry (get_nodes / server_client_list).
type Member struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Channel string `json:"channel"`
	Role    string `json:"role"`
}

// PushResult is the outcome of one apply-layout push.
type PushResult struct {
	Member   Member
	Version  string          // layout fingerprint
	OK       bool            // the phone answered ok:true
	Rendered json.RawMessage // the phone's "rendered" summary
	Err      string          // ok:false error, relay error, or transport error
	Timeout  bool            // no answer (an older app)
}

// PushOptions configure a Pusher.
type PushOptions struct {
	Client Requester
	// Self is the pusher's own member name (the bridge); never pushed to.
	Self string
	// Channel limits pushes to members of this channel ("" = any).
	Channel string
	// Roles are the member roles that get pushes: the app joins as
	// "controller" after a QR pair and as "viewer" from a layout; hubs,
	// nodes and command-line clients never render layouts. Default
	// PhoneRoles.
	Roles []string
	// Layout returns the layout to push (with its connection token).
	Layout func() *Layout
	// Interval between get_nodes polls (default 1s).
	Interval time.Duration
	// Timeout for one push (default 8s, above the relay's 5s route timeout).
	Timeout time.Duration
	Logger  *slog.Logger
	// OnResult, when set, is called after every push (tests, metrics).
	OnResult func(PushResult)
	// Seal, when set (an encrypted room), seals the apply-layout payload:
	// request payloads ride the room cipher (§15.5), and the layout carries
	// the token and the room key.
	Seal func(v any) (json.RawMessage, error)
	// Open opens a sealed reply (with Seal); a reply that is not an
	// envelope (a relay error) is read as it is.
	Open func(raw json.RawMessage) (json.RawMessage, error)
}

// PhoneRoles are the roles the phone app identifies with (§12.3, §15.1).
func PhoneRoles() []string { return []string{"controller", "viewer", "mobile"} }

// Pusher pushes the layout with a routed apply-layout (§14.11, §15.6) to
// every phone that joins the channel, once per phone name and layout version
// (a layout that changes back to an earlier version is pushed again).
type Pusher struct {
	opts PushOptions

	mu       sync.Mutex
	done     map[string]string // name -> the version it last got (a layout that changes back is pushed again)
	inflight map[string]bool
	wg       sync.WaitGroup
}

// NewPusher returns a pusher; call Run.
func NewPusher(opts PushOptions) *Pusher {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 8 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Roles == nil {
		opts.Roles = PhoneRoles()
	}
	return &Pusher{opts: opts, done: map[string]string{}, inflight: map[string]bool{}}
}

// Run polls get_nodes every Interval and pushes to new members until ctx is
// done; it waits for pushes in flight before returning.
func (p *Pusher) Run(ctx context.Context) error {
	defer p.wg.Wait()
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		if err := p.poll(ctx); err != nil && ctx.Err() == nil {
			p.opts.Logger.Debug("layout: get_nodes failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (p *Pusher) poll(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	raw, err := p.opts.Client.Request(rctx, "get_nodes", nil)
	if err != nil {
		return err
	}
	var list struct {
		Clients []Member `json:"clients"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("get_nodes reply: %w", err)
	}
	p.Observe(ctx, list.Clients)
	return nil
}

// Observe takes a roster (a get_nodes reply or a server_client_list push)
// and starts a push to every member not yet served with this layout version.
func (p *Pusher) Observe(ctx context.Context, members []Member) {
	l := p.opts.Layout()
	if l == nil {
		return
	}
	version := l.Fingerprint()
	for _, m := range members {
		if m.Name == "" || m.Name == p.opts.Self || m.ID == "" {
			continue
		}
		if p.opts.Channel != "" && m.Channel != p.opts.Channel {
			continue
		}
		if !slices.Contains(p.opts.Roles, m.Role) {
			continue
		}
		key := m.Name + "\x00" + version
		p.mu.Lock()
		skip := p.done[m.Name] == version || p.inflight[key] || ctx.Err() != nil
		if !skip {
			p.inflight[key] = true
			p.wg.Add(1)
		}
		p.mu.Unlock()
		if skip {
			continue
		}
		go func() {
			defer p.wg.Done()
			res := p.push(ctx, m, l, version)
			p.mu.Lock()
			delete(p.inflight, key)
			// A target that vanished is retried if it shows up again;
			// anything else (ok, error, no answer) is final for this version.
			if res.Err != "Target not found" {
				p.done[m.Name] = version
			}
			p.mu.Unlock()
			if p.opts.OnResult != nil {
				p.opts.OnResult(res)
			}
		}()
	}
}

func (p *Pusher) push(ctx context.Context, m Member, l *Layout, version string) PushResult {
	res := PushResult{Member: m, Version: version}
	log := p.opts.Logger.With("phone", m.Name, "id", m.ID, "layout", version)
	rctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	var payload any = l
	if p.opts.Seal != nil {
		sealed, err := p.opts.Seal(l)
		if err != nil {
			res.Err = err.Error()
			log.Error("layout: cannot seal apply-layout", "err", err)
			return res
		}
		payload = sealed
	}
	raw, err := p.opts.Client.Request(rctx, "route_msg", map[string]any{
		"target_id": m.ID, "type": "apply-layout", "payload": payload,
	})
	if err == nil && p.opts.Open != nil {
		raw, err = p.opts.Open(raw)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			res.Timeout = true
			log.Info("layout: phone did not answer apply-layout (older app?)")
			return res
		}
		res.Err = err.Error()
		if ctx.Err() != nil { // the box is stopping: nothing went wrong
			log.Debug("layout: apply-layout cancelled", "err", err)
			return res
		}
		log.Warn("layout: apply-layout failed", "err", err)
		return res
	}
	var reply struct {
		OK       *bool           `json:"ok"`
		Rendered json.RawMessage `json:"rendered"`
		Error    string          `json:"error"`
		Status   string          `json:"status"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil || raw == nil {
		res.Err = "unreadable reply: " + truncate(string(raw), 200)
		log.Warn("layout: apply-layout answer unreadable", "reply", truncate(string(raw), 200))
		return res
	}
	switch {
	case reply.OK != nil && *reply.OK:
		res.OK, res.Rendered = true, reply.Rendered
		log.Info("layout: phone rendered the layout", "rendered", truncate(string(reply.Rendered), 300))
	case reply.Error == "target timeout":
		res.Timeout = true
		log.Info("layout: phone did not answer apply-layout (older app?)")
	case reply.Error != "":
		res.Err = reply.Error
		log.Warn("layout: phone refused the layout", "error", reply.Error, "status", reply.Status)
	default:
		res.Err = "reply without ok: " + truncate(string(raw), 200)
		log.Warn("layout: unexpected apply-layout answer", "reply", truncate(string(raw), 200))
	}
	return res
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
