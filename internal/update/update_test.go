package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func newUpdater(t *testing.T, version string) *Updater {
	t.Helper()
	// The test releases are built for the host, also when this test runs
	// as an arm binary under qemu-user (make test-arm).
	return &Updater{Layout: Layout{StateDir: t.TempDir()}, Version: version, VerifyTimeout: 10 * time.Second,
		GOARCH: goEnv(t, "GOHOSTARCH")}
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestUpdate(t *testing.T) {
	r := buildReleases(t)
	ctx := context.Background()

	t.Run("install, boot, confirm, second update keeps prev", func(t *testing.T) {
		u := newUpdater(t, "1.0.0")
		l := u.Layout
		inst, err := u.InstallFrom(ctx, r.v2, Check{SHA256: sha(t, r.v2)})
		if err != nil {
			t.Fatal(err)
		}
		if inst.Version != "2.0.0" || inst.Path != l.Current() || inst.SHA256 != sha(t, r.v2) {
			t.Fatalf("installed %+v", inst)
		}
		if sha(t, l.Current()) != sha(t, r.v2) || exists(l.Prev()) || exists(l.Incoming()) {
			t.Fatal("first install: want current=v2, no prev, no leftover .new")
		}
		p, ok := u.PendingUpdate()
		if !ok || p.Version != "2.0.0" || p.FromVersion != "1.0.0" || p.HasPrev || p.Attempts != 0 {
			t.Fatalf("pending %+v %v", p, ok)
		}
		// Factory binary starts: count the attempt and exec the update.
		plan, err := u.Boot(ctx, r.v1, false)
		if err != nil || plan.Exec != l.Current() || plan.RolledBack != nil {
			t.Fatalf("boot: %+v %v", plan, err)
		}
		if p, _ := u.PendingUpdate(); p.Attempts != 1 {
			t.Fatalf("attempts %d", p.Attempts)
		}
		// The exec'd child does not count again.
		if plan, err := u.Boot(ctx, l.Current(), true); err != nil || plan.Exec != "" {
			t.Fatalf("child boot: %+v %v", plan, err)
		}
		// Confirm from a different binary does nothing.
		if err := u.Confirm(ctx, r.v1, 0, time.Second, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if _, ok := u.PendingUpdate(); !ok {
			t.Fatal("confirmed by the wrong binary")
		}
		if err := u.Confirm(ctx, l.Current(), 10*time.Millisecond, time.Second, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if _, ok := u.PendingUpdate(); ok {
			t.Fatal("still pending after Confirm")
		}
		// Second update: v2 becomes prev.
		u.Version = "2.0.0"
		if _, err := u.InstallFrom(ctx, r.v3, Check{}); err != nil {
			t.Fatal(err)
		}
		if sha(t, l.Prev()) != sha(t, r.v2) || sha(t, l.Current()) != sha(t, r.v3) {
			t.Fatal("second install: want prev=v2 current=v3")
		}
		if p, _ := u.PendingUpdate(); !p.HasPrev {
			t.Fatal("HasPrev not recorded")
		}
		// v3 never confirms: first start counts, second rolls back to v2.
		if _, err := u.Boot(ctx, r.v1, false); err != nil {
			t.Fatal(err)
		}
		plan, err = u.Boot(ctx, r.v1, false)
		if err != nil || plan.RolledBack == nil || plan.RolledBack.Version != "1.0.0" || plan.Exec != l.Current() {
			t.Fatalf("rollback boot: %+v %v", plan, err)
		}
		if sha(t, l.Current()) != sha(t, r.v2) || exists(l.Prev()) {
			t.Fatal("rollback did not restore v2")
		}
		if rb, ok := u.LastRollback(); !ok || rb.Version != "1.0.0" || !strings.Contains(rb.Reason, "did not report healthy") {
			t.Fatalf("rollback record %+v", rb)
		}
		if _, ok := u.PendingUpdate(); ok {
			t.Fatal("pending marker left after rollback")
		}
	})

	t.Run("first update rolls back to the factory binary", func(t *testing.T) {
		u := newUpdater(t, "1.0.0")
		if _, err := u.InstallFrom(ctx, r.crash, Check{}); err != nil {
			t.Fatal(err)
		}
		u.Boot(ctx, r.v1, false)
		plan, err := u.Boot(ctx, r.v1, false)
		if err != nil || plan.RolledBack == nil || plan.Exec != "" || exists(u.Layout.Current()) {
			t.Fatalf("want factory fallback: %+v %v", plan, err)
		}
	})

	t.Run("exec failure rolls back at once", func(t *testing.T) {
		u := newUpdater(t, "1.0.0")
		if _, err := u.InstallFrom(ctx, r.v2, Check{}); err != nil {
			t.Fatal(err)
		}
		rb, err := u.ExecFailed(errors.New("exec format error"))
		if err != nil || rb.Version != "2.0.0" || exists(u.Layout.Current()) {
			t.Fatalf("%+v %v", rb, err)
		}
	})

	t.Run("stale marker is discarded", func(t *testing.T) {
		u := newUpdater(t, "1.0.0")
		if _, err := u.InstallFrom(ctx, r.v2, Check{}); err != nil {
			t.Fatal(err)
		}
		// As if install stopped between marking and renaming: current is v3.
		if err := os.WriteFile(u.Layout.Current(), mustRead(t, r.v3), 0o755); err != nil {
			t.Fatal(err)
		}
		plan, err := u.Boot(ctx, r.v1, false)
		if err != nil || plan.RolledBack != nil || plan.Exec != u.Layout.Current() {
			t.Fatalf("%+v %v", plan, err)
		}
		if _, ok := u.PendingUpdate(); ok {
			t.Fatal("stale marker kept")
		}
		// A corrupt marker is dropped too.
		os.WriteFile(u.Layout.PendingFile(), []byte("{nope"), 0o640)
		if _, err := u.Boot(ctx, r.v1, false); err != nil {
			t.Fatal(err)
		}
		if exists(u.Layout.PendingFile()) {
			t.Fatal("corrupt marker kept")
		}
	})

	t.Run("rejected binaries leave everything as it was", func(t *testing.T) {
		u := newUpdater(t, "1.0.0")
		if _, err := u.InstallFrom(ctx, r.v2, Check{}); err != nil {
			t.Fatal(err)
		}
		if err := u.Confirm(ctx, u.Layout.Current(), 0, time.Second, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		before := sha(t, u.Layout.Current())
		cases := []struct {
			name, src, sum string
			want           error
		}{
			{"garbage", r.garbage, "", ErrVerify},
			{"wrong version output", r.wrongVersionPrint, "", ErrVerify},
			{"script claiming to be meshbox", r.script, "", ErrVerify},
			{"checksum mismatch", r.v3, strings.Repeat("ab", 32), ErrVerify},
			{"bad checksum syntax", r.v3, "xyz", ErrVerify},
			{"empty", os.DevNull, "", ErrVerify},
			{"missing file", filepath.Join(t.TempDir(), "none"), "", os.ErrNotExist},
		}
		for _, c := range cases {
			_, err := u.InstallFrom(ctx, c.src, Check{SHA256: c.sum})
			if !errors.Is(err, c.want) {
				t.Errorf("%s: err %v, want %v", c.name, err, c.want)
			}
			if sha(t, u.Layout.Current()) != before || exists(u.Layout.Incoming()) || exists(u.Layout.PendingFile()) || exists(u.Layout.Prev()) {
				t.Fatalf("%s: state changed", c.name)
			}
		}
		u.MaxBytes = 1000
		if _, err := u.InstallFrom(ctx, r.v3, Check{}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("too large: %v", err)
		}
	})

	t.Run("hanging version probe times out", func(t *testing.T) {
		u := newUpdater(t, "1.0.0")
		u.VerifyTimeout = 200 * time.Millisecond
		hang := r.hang
		start := time.Now()
		if _, err := u.InstallFrom(ctx, hang, Check{}); !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "did not answer") {
			t.Fatalf("err %v", err)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("probe not killed")
		}
	})

	t.Run("concurrent installs: one wins, the other is busy", func(t *testing.T) {
		u := newUpdater(t, "1.0.0")
		d, err := openDirs(u.Layout)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		unlock, err := lock(d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.InstallFrom(ctx, r.v2, Check{}); !errors.Is(err, ErrBusy) {
			t.Fatalf("want ErrBusy, got %v", err)
		}
		unlock()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = u.InstallFrom(ctx, r.v2, Check{})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && !errors.Is(err, ErrBusy) {
				t.Fatal(err)
			}
		}
		if errs[0] != nil && errs[1] != nil {
			t.Fatal("both concurrent installs failed")
		}
	})

	t.Run("confirm times out when unhealthy", func(t *testing.T) {
		u := newUpdater(t, "1.0.0")
		if _, err := u.InstallFrom(ctx, r.v2, Check{}); err != nil {
			t.Fatal(err)
		}
		err := u.Confirm(ctx, u.Layout.Current(), 10*time.Millisecond, 300*time.Millisecond,
			func(context.Context) error { return errors.New("503") })
		if !errors.Is(err, ErrUnhealthy) {
			t.Fatalf("err %v", err)
		}
		if _, ok := u.PendingUpdate(); !ok {
			t.Fatal("marker removed although unhealthy")
		}
	})

	t.Run("handler", func(t *testing.T) { testHandler(t, r) })
	t.Run("end to end with a supervisor", func(t *testing.T) { testEndToEnd(t, r) })
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testHandler(t *testing.T, r releases) {
	u := newUpdater(t, "1.0.0")
	restarts := make(chan struct{}, 4)
	token := "s3cret"
	h := Handler(HandlerOptions{Updater: u, Authorize: BearerAuthorizer(func() string { return token }), Restart: func() { restarts <- struct{}{} }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	// The box must never fetch a URL it is given (finding 9: a port and
	// HTTP scanner for credential holders).
	var fetched sync.Map
	bins := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		fetched.Store(req.URL.Path, true)
		http.ServeFile(w, req, r.v3)
	}))
	defer bins.Close()

	post := func(auth, ctype, query string, body []byte, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/update"+query, bytes.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	v2 := mustRead(t, r.v2)
	cases := []struct {
		name, auth, ctype, query string
		body                     []byte
		hdr                      map[string]string
		code                     int
		want                     string
	}{
		{"no auth", "", "", "", v2, nil, 401, "owner credential"},
		{"bad token", "Bearer nope", "", "", v2, nil, 401, "owner credential"},
		{"basic auth", "Basic czNjcmV0", "", "", v2, nil, 401, ""},
		{"garbage", "Bearer s3cret", "application/octet-stream", "", []byte("junk"), nil, 400, "new binary rejected"},
		{"bad sha header", "Bearer s3cret", "", "", v2, map[string]string{"X-Meshbox-SHA256": strings.Repeat("0", 64)}, 400, "sha256"},
		{"bad sha query", "Bearer s3cret", "", "?sha256=" + strings.Repeat("1", 64), v2, nil, 400, "sha256"},
		{"url refused", "Bearer s3cret", "application/json", "", []byte(`{"url":"` + bins.URL + `/meshbox","sha256":"` + sha(t, r.v3) + `"}`), nil, 415, "does not download"},
		{"file url refused", "Bearer s3cret", "application/json", "", []byte(`{"url":"file:///etc/passwd"}`), nil, 415, "does not download"},
		{"ok binary", "Bearer s3cret", "application/octet-stream", "", v2, map[string]string{"X-Meshbox-SHA256": sha(t, r.v2)}, 200, `"version":"2.0.0"`},
		{"ok again", "Bearer s3cret", "application/octet-stream", "", mustRead(t, r.v3), nil, 200, `"version":"1.0.0"`},
	}
	for _, c := range cases {
		code, body := post(c.auth, c.ctype, c.query, c.body, c.hdr)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s; want %d containing %q", c.name, code, body, c.code, c.want)
		}
	}
	fetched.Range(func(k, _ any) bool {
		t.Errorf("the box fetched %v from a URL it was sent", k)
		return true
	})
	if len(restarts) != 2 {
		t.Errorf("%d restarts, want 2 (one per successful install)", len(restarts))
	}
	resp, _ := http.Get(srv.URL + "/update")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %s", resp.Status)
	}
	resp.Body.Close()
	u.MaxBytes = 100
	if code, body := post("Bearer s3cret", "", "", v2, nil); code != 413 {
		t.Errorf("too large: %d %s", code, body)
	}
	token = ""
	if code, body := post("Bearer ", "", "", v2, nil); code != 403 || !strings.Contains(body, "updates need a credential") {
		t.Errorf("open relay: %d %s", code, body)
	}
}

func TestCheckELF(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkELF(self, runtime.GOARCH); err != nil {
		t.Errorf("checkELF(the test binary, %s) = %v", runtime.GOARCH, err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	if err := checkELF(self, other); !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "built for") {
		t.Errorf("checkELF(the test binary, %s) = %v, want a wrong-architecture error", other, err)
	}
	script := filepath.Join(t.TempDir(), "s.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho meshbox 9\n"), 0o755)
	if err := checkELF(script, runtime.GOARCH); !errors.Is(err, ErrVerify) {
		t.Errorf("checkELF(script) = %v, want ErrVerify", err)
	}
}

// mkBinDir creates the bin directory as Install would.
func mkBinDir(t *testing.T, l Layout) error {
	t.Helper()
	d, err := openDirs(l)
	if err != nil {
		return err
	}
	d.Close()
	return nil
}
