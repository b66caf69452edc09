package e2ee

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestCodec(t *testing.T) {
	key := testKey(t)
	logs := &logBuf{}
	path := filepath.Join(t.TempDir(), ReplayFileName)
	c, err := NewCodec(key, CodecOptions{Logger: slog.New(slog.NewTextHandler(logs, nil)), ReplayPath: path})
	if err != nil {
		t.Fatal(err)
	}
	phone, _ := NewRoom(key, nil, OpenerOptions{})
	cmd, _ := phone.SealJSON(map[string]any{"msg_type": "cmd", "target": "lamp", "value": true})
	pt, ok := c.Open("broadcast", cmd)
	if !ok || !strings.Contains(string(pt), `"target":"lamp"`) {
		t.Fatalf("open: %s %v", pt, ok)
	}
	if _, ok := c.Open("broadcast", cmd); ok {
		t.Fatal("replay opened")
	}
	for i := 0; i < 5; i++ {
		if _, ok := c.Open("broadcast", json.RawMessage(`{"msg_type":"cmd","target":"lamp","value":true}`)); ok {
			t.Fatal("plaintext opened")
		}
	}
	stranger, _ := NewRoom(testKey(t), nil, OpenerOptions{})
	bad, _ := stranger.SealJSON(map[string]any{"msg_type": "cmd"})
	if _, ok := c.Open("broadcast", bad); ok {
		t.Fatal("wrong key opened")
	}
	own, _ := c.Seal(map[string]any{"msg_type": "state"})
	if _, ok := c.Open("broadcast", own); ok {
		t.Fatal("own echo opened")
	}
	st := c.Stats()
	if st.Opened != 1 || st.Replayed != 1 || st.Plaintext != 5 || st.WrongKey != 1 || st.Sealed != 1 {
		t.Fatalf("stats %+v", st)
	}
	out := logs.String()
	if n := strings.Count(out, "unsealed frame"); n != 1 {
		t.Fatalf("plaintext logged %d times (want 1, rate limited):\n%s", n, out)
	}
	for _, want := range []string{"replayed envelope", "does not open with the room key"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %q", want)
		}
	}
	// the replay state survives a restart
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Run(ctx, 0)
	c2, err := NewCodec(key, CodecOptions{ReplayPath: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c2.Open("broadcast", cmd); ok {
		t.Fatal("replay opened after a restart")
	}
	next, _ := phone.SealJSON(map[string]any{"msg_type": "cmd", "target": "lamp", "value": false})
	if _, ok := c2.Open("broadcast", next); !ok {
		t.Fatal("the phone's next command refused after a restart")
	}
	// rotation: the old key stops opening
	k2 := testKey(t)
	if err := c2.SetKey(k2); err != nil {
		t.Fatal(err)
	}
	later, _ := phone.SealJSON(map[string]any{"msg_type": "cmd"})
	if _, ok := c2.Open("broadcast", later); ok {
		t.Fatal("old key opened after rotation")
	}
	if c2.Key() != k2 {
		t.Fatal("key not rotated")
	}
}
