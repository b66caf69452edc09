package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/box"
	"github.com/meshbox/meshbox/internal/update"
)

// TestE2EUpdate pushes a real meshbox build over the LAN to another real
// build and watches the whole update happen as systemd would run it:
//
//	v1 (the factory binary) serves under a Restart=on-failure supervisor;
//	POST /update with v2 installs it and v1 exits 3; the supervisor starts
//	the SAME v1 path again, which execs the installed v2; v2 stays healthy
//	past the settle time and confirms (the pending marker goes); bad pushes
//	(wrong token, a shell script) change nothing; a second update keeps v2
//	as meshbox.prev and, killed before it confirms, is rolled back to v2 on
//	the next start; SIGTERM stops the box with exit 0.
func TestE2EUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two meshbox binaries and runs them as processes for ~15 s; skipped with -short (make test-arm runs -short under qemu-user)")
	}
	began := time.Now()
	bins := e2euBuild(t, "v1", "v2")
	v1, v2 := bins["v1"], bins["v2"]
	t.Logf("built v1 and v2 in %s", time.Since(began).Round(time.Millisecond))
	sumV1, sumV2 := e2euSHA(t, v1), e2euSHA(t, v2)

	state := t.TempDir()
	lay := update.Layout{StateDir: state}
	// A keyed box (as flashed with --update-key): only signed binaries.
	pub, priv, err := update.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "update.pub")
	if err := os.WriteFile(keyFile, update.MarshalPublicKey(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	sign := func(bin []byte) string {
		s, err := update.Sign(priv, bytes.NewReader(bin))
		if err != nil {
			t.Fatal(err)
		}
		return s.String()
	}
	sigV1, sigV2 := sign(e2euRead(t, v1)), sign(e2euRead(t, v2))
	addr := e2euFreeAddr(t)
	const token = "e2e-update-token" // the hub token: a member, never an updater
	// The owner credential, as flash.sh --owner-token leaves it.
	const owner = "e2e-update-owner-credential"
	if err := os.WriteFile(filepath.Join(state, "owner-token"), []byte(owner+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sup := &e2euSupervisor{
		t:    t,
		bin:  v1,
		args: []string{"-sim", "-listen", addr},
		env: []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + state,
			"MESH_AUTH_TOKEN=" + token,
			"MESHBOX_STATE_DIR=" + state,
			"MESHBOX_LOG_LEVEL=info",
			"MESHBOX_UPDATE_KEY=" + keyFile,
		},
		maxStarts: 5,
	}
	sup.start()
	t.Cleanup(sup.kill)

	// 1. The factory binary serves.
	sup.waitServing(1, "v1", 20*time.Second)
	e2euWaitHealthy(t, sup, addr, 20*time.Second)
	if _, err := os.Stat(lay.Current()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("before any update %s should not exist: %v", lay.Current(), err)
	}

	// 2. Push v2: installed, v1 exits 3, the supervisor restarts v1's
	// binary, which execs the installed v2.
	pushed := time.Now()
	code, body := e2euPush(t, addr, owner, e2euRead(t, v2), sigV2)
	if code != http.StatusOK || body["status"] != "installed" || body["version"] != "v2" || body["from"] != "v1" || body["sha256"] != sumV2 {
		t.Fatalf("POST /update v2: %d %v\n%s", code, body, sup.tail())
	}
	sup.waitExits([]int{update.ExitCodeRestart}, 15*time.Second)
	sup.waitServing(2, "v2", 20*time.Second)
	e2euWaitHealthy(t, sup, addr, 20*time.Second)
	t.Logf("v2 serving %s after the push", time.Since(pushed).Round(time.Millisecond))
	if got := sup.startCount(); got != 2 {
		t.Fatalf("supervisor started %d processes, want 2 (v1, then v1 again which execs v2)\n%s", got, sup.tail())
	}
	if !strings.Contains(sup.log(), "update: running installed binary") {
		t.Fatalf("the restarted factory binary did not say it runs the installed update\n%s", sup.tail())
	}
	if got := e2euSHA(t, lay.Current()); got != sumV2 {
		t.Fatalf("%s is not v2: sha256 %s, want %s", lay.Current(), got, sumV2)
	}
	p := e2euPending(t, lay)
	if p == nil || p.Version != "v2" || p.FromVersion != "v1" || p.Attempts != 1 || p.HasPrev || p.SHA256 != sumV2 {
		t.Fatalf("pending marker before confirmation: %+v, want v2 from v1, 1 attempt, no prev (the factory binary is the rollback)", p)
	}

	// 5. Bad pushes while v2 settles: refused, nothing moves.
	// Issue #12 finding 2: the relay's (hub) token installs nothing.
	if code, body := e2euPush(t, addr, token, e2euRead(t, v1), sigV1); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Fatalf("POST /update with the hub token: %d %v, want 401/403\n%s", code, body, sup.tail())
	}
	if code, body := e2euPush(t, addr, "not-the-token", e2euRead(t, v1), sigV1); code != http.StatusUnauthorized {
		t.Fatalf("POST /update with a wrong token: %d %v, want 401\n%s", code, body, sup.tail())
	}
	if code, body := e2euPush(t, addr, "", e2euRead(t, v1), sigV1); code != http.StatusUnauthorized {
		t.Fatalf("POST /update without a token: %d %v, want 401\n%s", code, body, sup.tail())
	}
	// Unsigned and mis-signed binaries: refused with the reason.
	if code, body := e2euPush(t, addr, owner, e2euRead(t, v1), ""); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error"]), "only signed binaries") {
		t.Fatalf("POST /update unsigned: %d %v, want 400 saying only signed binaries\n%s", code, body, sup.tail())
	}
	if code, body := e2euPush(t, addr, owner, e2euRead(t, v1), sigV2); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error"]), "does not verify") {
		t.Fatalf("POST /update with another binary's signature: %d %v, want 400\n%s", code, body, sup.tail())
	}
	// A script that answers "version" like meshbox must not pass either.
	script := []byte("#!/bin/sh\necho 'meshbox v9'\nexit 0\n")
	code, body = e2euPush(t, addr, owner, script, sign(script))
	if code != http.StatusBadRequest || body["status"] != "failed" || !strings.Contains(fmt.Sprint(body["error"]), "not a compiled Linux program") {
		t.Fatalf("POST /update with a shell script: %d %v, want 400 saying it is not a compiled program\n%s", code, body, sup.tail())
	}
	if got := e2euSHA(t, lay.Current()); got != sumV2 {
		t.Fatalf("a refused push changed %s: sha256 %s, want v2's %s", lay.Current(), got, sumV2)
	}
	if _, err := os.Stat(lay.Incoming()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused push left %s behind: %v", lay.Incoming(), err)
	}
	e2euWaitHealthy(t, sup, addr, 5*time.Second)
	if got := sup.exitCodes(); len(got) != 1 {
		t.Fatalf("a refused push restarted the box: exits %v\n%s", got, sup.tail())
	}

	// 3. After the settle time v2 confirms itself: the marker goes.
	deadline := time.Now().Add(box.UpdateSettle + 15*time.Second)
	for e2euPending(t, lay) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("pending marker still there %s after the push (settle %s); exits %v\n%s",
				time.Since(pushed).Round(time.Millisecond), box.UpdateSettle, sup.exitCodes(), sup.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("v2 confirmed %s after the push", time.Since(pushed).Round(time.Millisecond))
	// The marker goes just before the line is written: poll for it.
	confirmedRE := regexp.MustCompile(`msg="update confirmed healthy".*version=v2`)
	for lineBy := time.Now().Add(15 * time.Second); !confirmedRE.MatchString(sup.log()); {
		if time.Now().After(lineBy) {
			t.Fatalf("no \"update confirmed healthy\" version=v2 log line within 15s of the marker going\n%s", sup.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(lay.RollbackFile()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a healthy update left a rollback record %s: %v", lay.RollbackFile(), err)
	}
	// The first update's rollback target is the factory binary
	// (internal/update/doc.go), so there is no meshbox.prev yet.
	if _, err := os.Stat(lay.Prev()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after the first update %s should not exist: %v", lay.Prev(), err)
	}

	// A second update (v1 again, a downgrade) keeps v2 as meshbox.prev.
	code, body = e2euPush(t, addr, owner, e2euRead(t, v1), sigV1)
	if code != http.StatusOK || body["version"] != "v1" || body["from"] != "v2" {
		t.Fatalf("POST /update v1 to v2: %d %v\n%s", code, body, sup.tail())
	}
	sup.waitExits([]int{update.ExitCodeRestart, update.ExitCodeRestart}, 15*time.Second)
	sup.waitServing(3, "v1", 20*time.Second)
	e2euWaitHealthy(t, sup, addr, 20*time.Second)
	if got := e2euSHA(t, lay.Prev()); got != sumV2 {
		t.Fatalf("%s after the second update: sha256 %s, want v2's %s", lay.Prev(), got, sumV2)
	}
	if got := e2euSHA(t, lay.Current()); got != sumV1 {
		t.Fatalf("%s after the second update: sha256 %s, want v1's %s", lay.Current(), got, sumV1)
	}
	if p := e2euPending(t, lay); p == nil || p.Version != "v1" || p.FromVersion != "v2" || !p.HasPrev || p.Attempts != 1 {
		t.Fatalf("pending marker of the second update: %+v, want v1 from v2 with prev, 1 attempt", p)
	}

	// The second update crashes before it confirms (SIGKILL, as the
	// systemd watchdog would): the next start rolls back to meshbox.prev.
	sup.signal(syscall.SIGKILL)
	sup.waitExits([]int{update.ExitCodeRestart, update.ExitCodeRestart, -1}, 15*time.Second)
	sup.waitServing(4, "v2", 20*time.Second)
	e2euWaitHealthy(t, sup, addr, 20*time.Second)
	if got := e2euSHA(t, lay.Current()); got != sumV2 {
		t.Fatalf("%s after the rollback: sha256 %s, want v2's %s", lay.Current(), got, sumV2)
	}
	if p := e2euPending(t, lay); p != nil {
		t.Fatalf("pending marker after the rollback: %+v", p)
	}
	var rb update.Rollback
	if err := json.Unmarshal(e2euRead(t, lay.RollbackFile()), &rb); err != nil || rb.Version != "v1" || rb.Reason == "" {
		t.Fatalf("rollback record: %+v, %v; want version v1 with a reason", rb, err)
	}

	// 4. SIGTERM: a deliberate stop, exit 0, and the supervisor stops.
	sup.signal(syscall.SIGTERM)
	sup.waitDone(15 * time.Second)
	if got, want := sup.exitCodes(), []int{3, 3, -1, 0}; !slices.Equal(got, want) {
		t.Fatalf("exit codes %v, want %v\n%s", got, want, sup.tail())
	}
	t.Logf("whole update test took %s", time.Since(began).Round(time.Millisecond))
}

// e2euBuild builds ./cmd/meshbox once per version, concurrently, for the
// host (even when the test binary itself was cross-built).
func e2euBuild(t *testing.T, versions ...string) map[string]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no go tool to build meshbox: %v", err)
		}
		t.Skipf("no go tool to build meshbox: %v", err)
	}
	hostEnv, err := exec.Command(goBin, "env", "GOHOSTOS", "GOHOSTARCH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	host := strings.Fields(string(hostEnv))
	if len(host) != 2 {
		t.Fatalf("go env GOHOSTOS GOHOSTARCH printed %q", hostEnv)
	}
	dir := t.TempDir()
	out := make(map[string]string, len(versions))
	errs := make([]error, len(versions))
	var wg sync.WaitGroup
	for i, v := range versions {
		bin := filepath.Join(dir, "meshbox-"+v)
		out[v] = bin
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-X main.version="+v, "-o", bin, ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+host[0], "GOARCH="+host[1])
			if msg, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go build %s: %w\n%s", v, err, msg)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}

// e2euSupervisor runs one binary like systemd's Restart=on-failure: the same
// path again after a non-zero exit, nothing after exit 0, at most maxStarts.
type e2euSupervisor struct {
	t         *testing.T
	bin       string
	args, env []string
	maxStarts int

	mu       sync.Mutex // guards everything below
	logs     bytes.Buffer
	cur      *exec.Cmd
	starts   int
	exits    []int
	stopping bool
	done     chan struct{}
}

// e2euLockedWriter serialises the children's stdout and stderr into logs.
type e2euLockedWriter struct{ s *e2euSupervisor }

func (w e2euLockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.logs.Write(p)
}

func (s *e2euSupervisor) start() {
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		for {
			s.mu.Lock()
			if s.stopping {
				s.mu.Unlock()
				return
			}
			if s.starts >= s.maxStarts {
				fmt.Fprintf(&s.logs, "=== supervisor: gave up after %d starts\n", s.starts)
				s.mu.Unlock()
				return
			}
			s.starts++
			fmt.Fprintf(&s.logs, "=== supervisor: start #%d %s\n", s.starts, s.bin)
			cmd := exec.Command(s.bin, s.args...)
			cmd.Env = s.env
			cmd.Stdout, cmd.Stderr = e2euLockedWriter{s}, e2euLockedWriter{s}
			cmd.WaitDelay = 2 * time.Second
			if err := cmd.Start(); err != nil {
				fmt.Fprintf(&s.logs, "=== supervisor: start: %v\n", err)
				s.mu.Unlock()
				return
			}
			s.cur = cmd
			s.mu.Unlock()

			err := cmd.Wait()
			code := 0
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee):
				code = ee.ExitCode() // -1 when killed by a signal
			case err != nil:
				code = -2
			}
			s.mu.Lock()
			s.exits = append(s.exits, code)
			fmt.Fprintf(&s.logs, "=== supervisor: exit %d (%v)\n", code, err)
			s.cur = nil
			stop := s.stopping || code == 0
			s.mu.Unlock()
			if stop {
				return
			}
			time.Sleep(100 * time.Millisecond) // RestartSec
		}
	}()
}

// signal sends sig to the running child.
func (s *e2euSupervisor) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		s.t.Fatalf("no running process to signal\n%s", e2euTail(s.logs.String()))
	}
	if err := s.cur.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal: %v", err)
	}
}

// kill (t.Cleanup) stops supervising and ends the child: SIGTERM, then
// SIGKILL if it lingers.
func (s *e2euSupervisor) kill() {
	s.mu.Lock()
	s.stopping = true
	if s.cur != nil {
		_ = s.cur.Process.Signal(syscall.SIGTERM)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return
	case <-time.After(10 * time.Second):
	}
	s.mu.Lock()
	if s.cur != nil {
		_ = s.cur.Process.Kill()
	}
	s.mu.Unlock()
	<-s.done
}

func (s *e2euSupervisor) waitDone(timeout time.Duration) {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.t.Fatalf("supervisor still running %s after SIGTERM; exits %v\n%s", timeout, s.exitCodes(), s.tail())
	}
}

func (s *e2euSupervisor) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

func (s *e2euSupervisor) tail() string { return e2euTail(s.log()) }

func (s *e2euSupervisor) exitCodes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.exits...)
}

func (s *e2euSupervisor) startCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts
}

func (s *e2euSupervisor) waitExits(want []int, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := s.exitCodes()
		if slices.Equal(got, want) {
			return
		}
		if len(got) > len(want) || time.Now().After(deadline) {
			s.t.Fatalf("exit codes %v, want %v (waited up to %s)\n%s", got, want, timeout, s.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var e2euServingRE = regexp.MustCompile(`msg="meshbox serving" version=(\S+)`)

// waitServing waits for the n-th "meshbox serving" log line and checks
// that it names version want.
func (s *e2euSupervisor) waitServing(n int, want string, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := e2euServingRE.FindAllStringSubmatch(s.log(), -1)
		if len(m) >= n {
			if got := m[n-1][1]; got != want {
				s.t.Fatalf("serving line #%d says version=%s, want %s\n%s", n, got, want, s.tail())
			}
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no serving line #%d (version %s) within %s; exits %v\n%s", n, want, timeout, s.exitCodes(), s.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func e2euTail(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return "--- log tail ---\n" + strings.Join(lines, "\n")
}

var e2euClient = &http.Client{Timeout: 30 * time.Second}

// e2euWaitHealthy polls GET /healthz until it answers 200.
func e2euWaitHealthy(t *testing.T, s *e2euSupervisor, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		resp, err := e2euClient.Get("http://" + addr + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %q", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /healthz not 200 within %s (last: %s); exits %v\n%s", timeout, last, s.exitCodes(), s.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// e2euPush POSTs body to /update with a bearer token ("" = none).
func e2euPush(t *testing.T, addr, token string, body []byte, sig string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/update", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if sig != "" {
		req.Header.Set(update.SignatureHeader, sig)
	}
	resp, err := e2euClient.Do(req)
	if err != nil {
		t.Fatalf("POST /update: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST /update: read reply: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("POST /update: %d, reply is not JSON: %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

// e2euPending reads the pending marker (nil when there is none).
func e2euPending(t *testing.T, l update.Layout) *update.Pending {
	t.Helper()
	b, err := os.ReadFile(l.PendingFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var p update.Pending
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v: %q", l.PendingFile(), err, b)
	}
	return &p
}

func e2euRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func e2euSHA(t *testing.T, path string) string {
	t.Helper()
	s := sha256.Sum256(e2euRead(t, path))
	return hex.EncodeToString(s[:])
}

func e2euFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
