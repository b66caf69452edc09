package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T, dir, hub string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, HubToken: hub})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFirstStartOnlyOnce(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "hub-token-0123456789")
	if !s.FirstStart() {
		t.Fatal("an empty state directory is not a first start")
	}
	for _, f := range []string{CredentialsFile, OwnerTokenFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	// A restart (also after kill -9: the file exists from the first moment).
	if s2 := open(t, dir, "hub-token-0123456789"); s2.FirstStart() {
		t.Fatal("a restart counts as a first start: pairing would reopen")
	}
}

func TestScopesAndRevoke(t *testing.T) {
	dir := t.TempDir()
	const hub = "hub-token-0123456789"
	s := open(t, dir, hub)
	if sc, ok := s.Lookup(hub); !ok || sc != ScopeHub {
		t.Fatalf("hub token: %v %v", sc, ok)
	}
	csec, ctok, err := s.Mint(ScopeController, "alice's phone")
	if err != nil {
		t.Fatal(err)
	}
	vsec, _, err := s.Mint(ScopeViewer, "")
	if err != nil {
		t.Fatal(err)
	}
	if sc, ok := s.Lookup(csec); !ok || sc != ScopeController {
		t.Fatalf("controller: %v %v", sc, ok)
	}
	if sc, ok := s.Lookup(vsec); !ok || sc != ScopeViewer {
		t.Fatalf("viewer: %v %v", sc, ok)
	}
	owner, err := ReadOwnerToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(owner); ok {
		t.Fatal("the owner credential joins the mesh")
	}
	if !s.IsOwner(owner) || s.IsOwner(csec) || s.IsOwner(hub) || s.IsOwner("") {
		t.Fatal("IsOwner wrong")
	}
	for _, bad := range []string{"", "x", csec + "x", strings.ToUpper(csec)} {
		if _, ok := s.Lookup(bad); ok {
			t.Errorf("Lookup(%q) accepted", bad)
		}
	}
	// The file holds hashes, never the secrets.
	b, _ := os.ReadFile(filepath.Join(dir, CredentialsFile))
	if bytes.Contains(b, []byte(csec)) || bytes.Contains(b, []byte(vsec)) || bytes.Contains(b, []byte(hub)) {
		t.Fatalf("a secret is stored in plain text:\n%s", b)
	}
	// Persisted: a new store (restart) knows them.
	s2 := open(t, dir, hub)
	if sc, ok := s2.Lookup(csec); !ok || sc != ScopeController {
		t.Fatal("controller token lost on restart")
	}
	if _, err := s2.Revoke(ctok.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := s2.Lookup(csec); ok {
		t.Fatal("revoked token still accepted")
	}
	if _, err := s2.Revoke(ctok.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, ok := open(t, dir, hub).Lookup(csec); ok {
		t.Fatal("revoked token back after restart")
	}
	if _, _, err := s.Mint(ScopeHub, ""); err == nil {
		t.Fatal("minted a hub token")
	}
	if _, _, err := s.Mint(ScopeViewer, "bad\nlabel"); err == nil {
		t.Fatal("label with a newline accepted")
	}
}

func TestPendingClaimedOnFirstUse(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var logs bytes.Buffer
	s, err := Open(Options{Dir: dir, HubToken: "hub-token-0123456789", Now: clock,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sec, tok, err := s.MintPending(ScopeController, "", now.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !s.IsPending(tok.ID) || len(s.List()) != 1 || !s.List()[0].Pending {
		t.Fatal("not pending")
	}
	// Not on disk while pending.
	if _, ok := open(t, dir, "").Lookup(sec); ok {
		t.Fatal("a pending token survives a restart")
	}
	if sc, ok := s.Lookup(sec); !ok || sc != ScopeController {
		t.Fatal("pending token refused")
	}
	if s.IsPending(tok.ID) {
		t.Fatal("still pending after use")
	}
	s.ClearPending() // the window closes: the claimed token stays
	if _, ok := s.Lookup(sec); !ok {
		t.Fatal("claimed token dropped with the window")
	}
	if _, ok := open(t, dir, "").Lookup(sec); !ok {
		t.Fatal("claimed token not persisted")
	}
	if strings.Contains(logs.String(), sec) {
		t.Fatal("the secret is logged")
	}
	// Expired and cleared pending tokens are refused.
	late, _, _ := s.MintPending(ScopeController, "", now.Add(time.Minute))
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, ok := s.Lookup(late); ok {
		t.Fatal("expired pending token accepted")
	}
	gone, _, _ := s.MintPending(ScopeViewer, "", time.Time{})
	s.ClearPending()
	if _, ok := s.Lookup(gone); ok {
		t.Fatal("cleared pending token accepted")
	}
	// The pending list is bounded.
	first, _, _ := s.MintPending(ScopeController, "", time.Time{})
	for range MaxPending {
		if _, _, err := s.MintPending(ScopeController, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := s.Lookup(first); ok {
		t.Fatal("pending list not bounded: the oldest still works")
	}
}

func TestLastSeenFlushed(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "")
	sec, tok, _ := s.Mint(ScopeViewer, "tablet")
	if _, ok := s.Lookup(sec); !ok {
		t.Fatal("refused")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, got := range open(t, dir, "").List() {
		if got.ID == tok.ID && got.LastSeen.IsZero() {
			t.Fatal("last seen not saved at shutdown")
		}
	}
}

func TestOwnerToken(t *testing.T) {
	dir := t.TempDir()
	// Set at flash time: used as is, mode tightened.
	if err := os.WriteFile(filepath.Join(dir, OwnerTokenFile), []byte("flash-time-owner-credential\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, "")
	if !s.IsOwner("flash-time-owner-credential") {
		t.Fatal("flash-time owner credential not used")
	}
	st, _ := os.Stat(filepath.Join(dir, OwnerTokenFile))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v not tightened", st.Mode().Perm())
	}
	// Equal to the hub token: refused.
	if _, err := Open(Options{Dir: dir, HubToken: "flash-time-owner-credential"}); err == nil {
		t.Fatal("owner == hub accepted")
	}
	// A symlink is refused, not followed.
	d2 := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(target, []byte("x-owner-credential-xxxxx"), 0o600)
	os.Symlink(target, filepath.Join(d2, OwnerTokenFile))
	if _, err := Open(Options{Dir: d2}); err == nil {
		t.Fatal("symlinked owner-token followed")
	}
}

func TestDamagedFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, CredentialsFile)
	os.WriteFile(path, []byte(`{"version":1,"tokens":[{"id":"a","label":"x","scope":"root","sha256":"00"}]}`), 0o600)
	var logs bytes.Buffer
	s, err := Open(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if s.FirstStart() {
		t.Fatal("a damaged file reopens first-start pairing")
	}
	if !strings.Contains(logs.String(), "tokens[0].scope") {
		t.Fatalf("the error does not name the field: %s", logs.String())
	}
	m, _ := filepath.Glob(path + ".bad-*")
	if len(m) != 1 {
		t.Fatal("damaged file not kept aside")
	}
	if _, err := parseFile(path, mustRead(t, path)); err != nil {
		t.Fatalf("the new file does not parse: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFileErrors(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for _, c := range []struct{ text, want string }{
		{`{"version":2,"tokens":[]}`, "version"},
		{`{"version":1,"tokens":[{"id":"","label":"","scope":"viewer","sha256":"` + sum + `"}]}`, "tokens[0].id"},
		{`{"version":1,"tokens":[{"id":"a","label":"","scope":"viewer","sha256":"zz"}]}`, "tokens[0].sha256"},
		{`{"version":1,"tokens":[{"id":"a","label":"","scope":"viewer","sha256":"` + sum + `"},{"id":"a","label":"","scope":"viewer","sha256":"` + sum + `"}]}`, "tokens[1].id"},
		{`{"version":1,"tokens":[],"extra":1}`, "unknown field"},
		{`{"version":1,"tokens":[]} {}`, "text after"},
		{"\xff", "UTF-8"},
	} {
		_, err := parseFile("c.json", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "c.json: ") {
			t.Errorf("%s: err %v, want it to name %q", c.text, err, c.want)
		}
	}
}

func TestListJSONHasNoSecret(t *testing.T) {
	s := open(t, t.TempDir(), "")
	sec, _, _ := s.Mint(ScopeController, "p")
	b, _ := json.Marshal(s.List())
	if bytes.Contains(b, []byte(sec)) || !bytes.Contains(b, []byte(`"scope":"controller"`)) {
		t.Fatalf("list JSON %s", b)
	}
}

// TestQRSlotSurvivesPageFlood: the QR's token has its own slot; any number
// of page-session tokens minted meanwhile never evict it (they only evict
// each other), a new QR token replaces the old one, and a window closing
// drops it.
func TestQRSlotSurvivesPageFlood(t *testing.T) {
	s := open(t, t.TempDir(), "hub-token-0123456789")
	qr, qrTok, err := s.MintQR(ScopeController, "phone (pairing QR)", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 * MaxPending {
		if _, _, err := s.MintPending(ScopeController, "browser page", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if !s.IsPending(qrTok.ID) {
		t.Fatal("the QR token was evicted by page sessions")
	}
	if n := len(s.List()); n != MaxPending+1 {
		t.Fatalf("%d tokens listed, want %d pending pages + the QR's", n, MaxPending+1)
	}
	qr2, _, _ := s.MintQR(ScopeController, "phone (pairing QR)", time.Time{})
	if _, ok := s.Lookup(qr); ok {
		t.Fatal("a replaced QR token still works")
	}
	if sc, ok := s.Lookup(qr2); !ok || sc != ScopeController {
		t.Fatal("the QR token does not pair")
	}
	if _, ok := open(t, s.Dir(), "hub-token-0123456789").Lookup(qr2); !ok {
		t.Fatal("the phone paired from the QR is not stored")
	}
	qr3, _, _ := s.MintQR(ScopeViewer, "", time.Time{})
	s.ClearPending()
	if _, ok := s.Lookup(qr3); ok {
		t.Fatal("the QR token works after the window closed")
	}
}

// TestNamedLabelsAPairedPhone: the first identify after pairing labels the
// token with the phone's name (kept across a restart); later names, names
// with control characters and tokens that were not just paired are left
// alone.
func TestNamedLabelsAPairedPhone(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "hub-token-0123456789")
	minted, _, _ := s.Mint(ScopeViewer, "wall tablet")
	sec, tok, _ := s.MintQR(ScopeController, "phone (pairing QR)", time.Time{})
	s.Named(sec, "Alices-iPhone") // not claimed yet: nothing to label
	if _, ok := s.Lookup(sec); !ok {
		t.Fatal("QR token refused")
	}
	s.Named(sec, "bad\u2028name")
	s.Named(sec, "Alices-iPhone")
	s.Named(sec, "Mallory")
	s.Named(minted, "Mallory")
	label := func(st *Store, id string) string {
		for _, x := range st.List() {
			if x.ID == id {
				return x.Label
			}
		}
		return "(missing)"
	}
	if got := label(s, tok.ID); got != "Alices-iPhone · phone (pairing QR)" {
		t.Fatalf("label %q", got)
	}
	again := open(t, dir, "hub-token-0123456789")
	if got := label(again, tok.ID); got != "Alices-iPhone · phone (pairing QR)" {
		t.Fatalf("label after a restart %q", got)
	}
	for _, x := range again.List() {
		if x.Label == "Mallory" || strings.HasPrefix(x.Label, "Mallory") {
			t.Fatalf("a later identify renamed %s", x.ID)
		}
	}
	long := strings.Repeat("n", MaxLabelLen-2)
	sec2, tok2, _ := s.MintQR(ScopeController, "phone (pairing QR)", time.Time{})
	s.Lookup(sec2)
	s.Named(sec2, long)
	if got := label(s, tok2.ID); got != long {
		t.Fatalf("a long name: label %q, want the name alone", got)
	}
}
