package meshsocket

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/meshsocket/meshsockettest"
)

func TestWSSWithCAFile(t *testing.T) {
	r := meshsockettest.New()
	srv := httptest.NewTLSServer(r)
	defer r.Close()
	defer srv.Close()
	url := "wss" + strings.TrimPrefix(srv.URL, "https")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	// System roots do not know the test CA.
	o := Options{URL: url, Name: "tls", NoReconnect: true}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctxT(t, 5*time.Second)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v; want a certificate error", err)
	}
	c.Close()
	o.CAFile = ca
	c = startClient(t, o)
	if out, err := c.Request(ctxT(t, 5*time.Second), "ping", nil); err != nil || string(out) != `"pong"` {
		t.Fatalf("wss ping = %s, %v", out, err)
	}
	if _, err := New(Options{URL: url, CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Fatal("missing CA file accepted")
	}
	for _, bad := range []string{"not a url", "http://x", "ws://", "wss:///path"} {
		if _, err := New(Options{URL: bad}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

// TestConcurrentUse hammers one client from many goroutines (run with
// -race): requests, sends, handler registration.
func TestConcurrentUse(t *testing.T) {
	for _, impl := range relayImpls() {
		t.Run(impl.name, func(t *testing.T) {
			r := startRelay(t, impl, testToken)
			a := startClient(t, fastOpts(r.url(), "conc-a"))
			b := startClient(t, fastOpts(r.url(), "conc-b"))
			b.On("echo", func(_ context.Context, f Frame) (any, error) { return f.Payload, nil })
			ctx := ctxT(t, 20*time.Second)
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for g := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 5 {
						want := `{"g":` + string(rune('0'+g)) + `,"i":` + string(rune('0'+i)) + `}`
						out, err := a.Route(ctx, b.ID(), "echo", json.RawMessage(want))
						if err == nil && string(out) != want {
							err = &FailedError{Reason: "echo mismatch " + string(out) + " != " + want}
						}
						if err != nil {
							errs <- err
							return
						}
						a.On("noise", func(context.Context, Frame) (any, error) { return nil, nil })
						a.Off("noise")
						_ = a.ID()
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
