package pairing

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/auth"
)

func testStore(t *testing.T, dir string) *auth.Store {
	t.Helper()
	s, err := auth.Open(auth.Options{Dir: dir, HubToken: "hub-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestManagerTokens: the QR carries a pending controller token, replaced
// once a phone used it; nothing is handed out while the window is closed;
// closing drops the unused tokens, the used one keeps working.
func TestManagerTokens(t *testing.T) {
	st := testStore(t, t.TempDir())
	w := NewWindow(time.Hour, false, nil)
	m := NewManager(w, st, nil)
	qr1, ok := m.QRToken()
	if !ok || qr1 == "" {
		t.Fatal("no QR token while open")
	}
	if again, _ := m.QRToken(); again != qr1 {
		t.Fatal("QR token changes while nobody used it")
	}
	v1 := m.QRVersion()
	if sc, ok := st.Lookup(qr1); !ok || sc != auth.ScopeController {
		t.Fatal("QR token is not a controller token")
	}
	if m.QRVersion() == v1 {
		t.Fatal("QR version unchanged after the token was used")
	}
	qr2, _ := m.QRToken()
	if qr2 == qr1 {
		t.Fatal("a used QR token is shown again: two phones would share it")
	}
	page, ok := m.PageToken()
	if !ok || page == qr2 {
		t.Fatal("page token")
	}
	m.Close()
	if _, ok := m.QRToken(); ok {
		t.Fatal("QR token while closed")
	}
	if _, ok := m.PageToken(); ok {
		t.Fatal("page token while closed")
	}
	if _, ok := st.Lookup(qr2); ok {
		t.Fatal("an unused QR token works after the window closed")
	}
	if _, ok := st.Lookup(page); ok {
		t.Fatal("an unused page token works after the window closed")
	}
	if _, ok := st.Lookup(qr1); !ok {
		t.Fatal("the paired phone's token was dropped")
	}
}

// TestManagerRunDropsOnExpiry: the window running out drops pending tokens.
func TestManagerRunDropsOnExpiry(t *testing.T) {
	st := testStore(t, t.TempDir())
	w := NewWindow(time.Hour, false, nil)
	m := NewManager(w, st, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	changes := make(chan Change, 8)
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx, func(c Change) { changes <- c }) }()
	<-changes // initial state
	tok, _ := m.QRToken()
	w.Close()
	for c := range changes {
		if !c.Open {
			break
		}
	}
	if _, ok := st.Lookup(tok); ok {
		t.Fatal("pending token survives the window")
	}
	cancel()
	<-done
}

func TestAdminAndControlSocket(t *testing.T) {
	dir := t.TempDir()
	st := testStore(t, dir)
	w := NewWindow(time.Hour, false, nil)
	w.Close()
	m := NewManager(w, st, nil)
	a := &Admin{Manager: m, Store: st, Payload: func(tok, role string) Payload {
		return Payload{URL: "ws://192.168.1.5:8765", Channel: "home", Role: role, Token: tok}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- ServeControl(ctx, dir, func(r Request) Response { return a.Do(r, "the console") }, nil)
	}()
	call := func(req Request) (Response, error) {
		t.Helper()
		var resp Response
		var err error
		for { // the socket appears once ServeControl listens
			resp, err = CallControl(ctx, dir, req)
			if err == nil || !strings.Contains(err.Error(), "is meshbox running") || ctx.Err() != nil {
				return resp, err
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, err := call(Request{Op: "qr"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("qr while closed: %v", err)
	}
	st2, err := os.Stat(ControlPath(dir))
	if err != nil || st2.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v", st2, err)
	}
	if d, _ := os.Stat(filepath.Dir(ControlPath(dir))); d.Mode().Perm() != 0o700 {
		t.Fatalf("control dir mode %v", d.Mode().Perm())
	}
	resp, err := call(Request{Op: "pair", PNG: true})
	if err != nil || !resp.Open || resp.Pairing == nil || resp.Pairing.Role != "controller" || len(resp.QRPNG) == 0 {
		t.Fatalf("pair: %+v %v", resp, err)
	}
	if sc, ok := st.Lookup(resp.Pairing.Token); !ok || sc != auth.ScopeController {
		t.Fatal("paired token refused")
	}
	v, err := call(Request{Op: "viewer", Label: "kitchen tablet"})
	if err != nil || v.Pairing.Role != "viewer" || v.Token == nil || v.Token.Label != "kitchen tablet" {
		t.Fatalf("viewer: %+v %v", v, err)
	}
	if sc, ok := st.Lookup(v.Pairing.Token); !ok || sc != auth.ScopeViewer {
		t.Fatal("viewer token")
	}
	list, err := call(Request{Op: "tokens"})
	if err != nil || len(list.Tokens) < 2 {
		t.Fatalf("tokens: %+v %v", list, err)
	}
	if _, err := call(Request{Op: "revoke", ID: v.Token.ID}); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Lookup(v.Pairing.Token); ok {
		t.Fatal("revoked viewer works")
	}
	if _, err := call(Request{Op: "close"}); err != nil || m.Open() {
		t.Fatal("close")
	}
	if _, err := call(Request{Op: "nope"}); err == nil {
		t.Fatal("unknown op accepted")
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ControlPath(dir)); !os.IsNotExist(err) {
		t.Fatal("socket left behind")
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"op":"pair","png":true}`))
	f.Add([]byte(`{"op":"revoke","id":"0a1b2c3d4e5f"}`))
	f.Add([]byte(`{"op":"viewer","label":"kitchen"}`))
	f.Add([]byte(`{"op":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		switch r.Op {
		case "status", "pair", "close", "qr", "tokens", "viewer", "revoke":
		default:
			t.Fatalf("accepted op %q", r.Op)
		}
		if auth.CheckLabel(r.Label) != nil && r.Op == "viewer" {
			t.Fatalf("accepted label %q", r.Label)
		}
	})
}

// TestQRTokenSurvivesSessionFlood: while the window is open anyone on the
// LAN can open page sessions; however many they open, the QR a phone is
// scanning keeps working (it used to share their MaxPending slots).
func TestQRTokenSurvivesSessionFlood(t *testing.T) {
	st := testStore(t, t.TempDir())
	m := NewManager(NewWindow(time.Hour, false, nil), st, nil)
	qr, ok := m.QRToken()
	if !ok {
		t.Fatal("no QR token")
	}
	v := m.QRVersion()
	for range 4 * auth.MaxPending {
		if _, ok := m.PageToken(); !ok {
			t.Fatal("no page token")
		}
	}
	if m.QRVersion() != v {
		t.Fatal("the QR changed under a flood of page sessions")
	}
	if again, _ := m.QRToken(); again != qr {
		t.Fatal("the QR token was replaced")
	}
	if sc, ok := st.Lookup(qr); !ok || sc != auth.ScopeController {
		t.Fatal("the scanned QR token no longer pairs")
	}
}
