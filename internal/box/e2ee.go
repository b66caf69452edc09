package box

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/metrics"
)

// room is the encrypted room (config e2ee: true): the room key in the
// state directory and the one codec every member of the box seals and
// opens with (the embedded relay's member, the upstream link, the layout
// pusher). nil when the room is not encrypted.
type room struct {
	keys  *e2ee.KeyFile
	codec *e2ee.Codec
}

// openRoom loads (or at first start generates) the room key and starts a
// room session with a fresh salt and the saved replay state.
func openRoom(cfg *config.Config, token string, log *slog.Logger) (*room, error) {
	if !cfg.E2EE {
		return nil, nil
	}
	if token == "" {
		return nil, errors.New("e2ee: true needs a token: on an open relay the pairing QR, and the room key in it, is shown to anyone who opens the page")
	}
	log = log.With("component", "e2ee")
	path := filepath.Join(cfg.StateDir, e2ee.KeyFileName)
	keys, created, err := e2ee.OpenKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("e2ee: room key: %w", err)
	}
	codec, err := e2ee.NewCodec(keys.Key(), e2ee.CodecOptions{Logger: log,
		ReplayPath: filepath.Join(cfg.StateDir, e2ee.ReplayFileName)})
	if err != nil {
		return nil, err
	}
	keys.OnRotate(func(k e2ee.Key) {
		if err := codec.SetKey(k); err != nil {
			log.Error("e2ee: cannot switch to the rotated key", "err", err)
		}
	})
	how := "stored"
	if created {
		how = "generated"
	}
	log.Info("e2ee: encrypted room (grp v2): the bridge seals what it sends and acts only on sealed commands",
		"key", how, "path", path)
	return &room{keys: keys, codec: codec}, nil
}

// cipher is what members join with (nil: clear text).
func (r *room) cipher() bridge.Cipher {
	if r == nil {
		return nil
	}
	return r.codec
}

// key is the current room key in base64 ("" when not encrypted).
func (r *room) key() string {
	if r == nil {
		return ""
	}
	return r.keys.Key().String()
}

// openReply opens a routed reply in the room; a reply that is not an
// envelope (a relay error, a timeout) is read as it is.
func (r *room) openReply(raw json.RawMessage) (json.RawMessage, error) {
	if !e2ee.IsEnvelope(raw) {
		return raw, nil
	}
	pt, ok := r.codec.Open("apply-layout reply", raw)
	if !ok {
		return nil, errors.New("the sealed reply does not open with the room key")
	}
	return pt, nil
}

// RoomKeys is the encrypted room's key file (nil when e2ee is off): the
// phone-token rotation calls its Rotate (pairing.Admin.Revoked), after
// which every phone pairs again.
func (b *Box) RoomKeys() *e2ee.KeyFile {
	if b.room == nil {
		return nil
	}
	return b.room.keys
}

// startE2EE saves the replay state while the box runs (and once more when
// it stops, after the members, which stop first).
func (b *Box) startE2EE(ctx context.Context) (func(), error) {
	if b.room == nil {
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.room.codec.Run(ctx, 0)
	}()
	return func() { cancel(); <-done }, nil
}

// e2eeFamilies count what the room codec did (none when not encrypted).
func (b *Box) e2eeFamilies() []metrics.Family {
	if b.room == nil {
		return nil
	}
	c := b.room.codec
	return []metrics.Family{counter("meshbox_e2ee_frames_total",
		"Payloads of the encrypted room: sealed and opened by the box, and refused (plaintext, wrong_key, replayed, malformed).",
		func(emit metrics.Emit) {
			st := c.Stats()
			emit(float64(st.Sealed), "result", "sealed")
			emit(float64(st.Opened), "result", "opened")
			emit(float64(st.Plaintext), "result", "plaintext")
			emit(float64(st.WrongKey), "result", "wrong_key")
			emit(float64(st.Replayed), "result", "replayed")
			emit(float64(st.Malformed), "result", "malformed")
		})}
}
