package e2ee

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Codec is the box's side of an encrypted room: the one place a mesh member
// seals what it sends and opens what it receives. The key can rotate (a new
// session, a new salt, a new replay state). It is safe for concurrent use.
type Codec struct {
	log        *slog.Logger
	opts       OpenerOptions
	replayPath string

	room atomic.Pointer[Room]

	plaintext, wrongKey, replayed, malformed, opened, sealed atomic.Uint64

	mu      sync.Mutex
	lastLog map[string]time.Time
	dirty   bool
}

// CodecOptions configure a Codec.
type CodecOptions struct {
	Logger *slog.Logger
	Opener OpenerOptions
	// ReplayPath, when set, keeps the replay state (the senders' high-water
	// marks) across restarts: loaded by NewCodec, written by Run.
	ReplayPath string
}

// LogEvery is the least time between two log lines about refused frames of
// one kind.
const LogEvery = time.Minute

// NewCodec starts a room session for key (a fresh salt).
func NewCodec(key Key, o CodecOptions) (*Codec, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Codec{log: o.Logger, opts: o.Opener, replayPath: o.ReplayPath, lastLog: map[string]time.Time{}}
	r, err := NewRoom(key, nil, o.Opener)
	if err != nil {
		return nil, err
	}
	if o.ReplayPath != "" {
		switch b, err := os.ReadFile(o.ReplayPath); {
		case err == nil:
			marks, derr := DecodeMarks(b)
			if derr != nil {
				c.log.Warn("e2ee: replay state unreadable; starting without it", "path", o.ReplayPath, "err", derr)
			} else {
				r.Opener().Restore(marks)
			}
		case !errors.Is(err, os.ErrNotExist):
			c.log.Warn("e2ee: replay state unreadable; starting without it", "path", o.ReplayPath, "err", err)
		}
	}
	c.room.Store(r)
	return c, nil
}

// SetKey switches to a new key (rotation): a new session salt, and the old
// key's senders are no longer tracked. Envelopes under the old key stop
// opening at once.
func (c *Codec) SetKey(k Key) error {
	r, err := NewRoom(k, nil, c.opts)
	if err != nil {
		return err
	}
	c.room.Store(r)
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
	c.log.Info("e2ee: room key rotated; phones must pair again")
	return nil
}

// Key returns the current room key.
func (c *Codec) Key() Key { return c.room.Load().Key() }

// Seal seals a payload (any JSON value or a value to marshal).
func (c *Codec) Seal(v any) (json.RawMessage, error) {
	env, err := c.room.Load().SealJSON(v)
	if err == nil {
		c.sealed.Add(1)
	}
	return env, err
}

// Open opens a received payload. ok is false when it must be ignored:
// plaintext, malformed, wrongly keyed or replayed (each counted and logged
// at most once per LogEvery), or the box's own envelope echoed back
// (silently). what names the frame for the log ("broadcast", a routed type).
func (c *Codec) Open(what string, raw json.RawMessage) (pt json.RawMessage, ok bool) {
	pt, err := c.room.Load().Open(raw)
	switch {
	case err == nil:
		c.opened.Add(1)
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return pt, true
	case errors.Is(err, ErrOwn):
	case errors.Is(err, ErrNotEnvelope):
		c.plaintext.Add(1)
		c.note("plaintext", what, "e2ee: ignored an unsealed frame in the encrypted room")
	case errors.Is(err, ErrMalformed):
		c.malformed.Add(1)
		c.note("malformed", what, "e2ee: ignored a malformed envelope")
	case errors.Is(err, ErrReplay):
		c.replayed.Add(1)
		c.note("replay", what, "e2ee: ignored a replayed envelope")
	default:
		c.wrongKey.Add(1)
		c.note("wrong-key", what, "e2ee: ignored an envelope that does not open with the room key")
	}
	return nil, false
}

func (c *Codec) note(kind, what, msg string) {
	now := time.Now()
	c.mu.Lock()
	last, seen := c.lastLog[kind]
	if seen && now.Sub(last) < LogEvery {
		c.mu.Unlock()
		return
	}
	c.lastLog[kind] = now
	c.mu.Unlock()
	st := c.Stats()
	c.log.Warn(msg, "frame", what, "plaintext", st.Plaintext, "wrong_key", st.WrongKey,
		"replayed", st.Replayed, "malformed", st.Malformed)
}

// CodecStats counts what a Codec did.
type CodecStats struct {
	Sealed, Opened                           uint64
	Plaintext, WrongKey, Replayed, Malformed uint64
}

// Stats returns the counters.
func (c *Codec) Stats() CodecStats {
	return CodecStats{Sealed: c.sealed.Load(), Opened: c.opened.Load(), Plaintext: c.plaintext.Load(),
		WrongKey: c.wrongKey.Load(), Replayed: c.replayed.Load(), Malformed: c.malformed.Load()}
}

// Flush writes the replay state when it changed (no-op without ReplayPath).
func (c *Codec) Flush() error {
	if c.replayPath == "" {
		return nil
	}
	c.mu.Lock()
	dirty := c.dirty
	c.dirty = false
	c.mu.Unlock()
	if !dirty {
		return nil
	}
	err := WritePrivate(c.replayPath, EncodeMarks(c.room.Load().Opener().Marks()))
	if err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
	}
	return err
}

// Run writes the replay state every interval while it changes (2s when
// <= 0) and once more when ctx is done.
func (c *Codec) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := c.Flush(); err != nil {
				c.log.Warn("e2ee: cannot save the replay state", "path", c.replayPath, "err", err)
			}
			return nil
		case <-t.C:
			if err := c.Flush(); err != nil {
				c.log.Warn("e2ee: cannot save the replay state", "path", c.replayPath, "err", err)
			}
		}
	}
}
