package update

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// supervisor restarts a command on a non-zero exit, like systemd's
// Restart=on-failure, and records every exit code.
type supervisor struct {
	t    *testing.T
	bin  string
	args []string
	logs bytes.Buffer // guarded by mu

	mu       sync.Mutex
	cur      *exec.Cmd
	exits    []int
	stopping bool
	done     chan struct{}
}

func (s *supervisor) start() {
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		for starts := 0; starts < 15; starts++ {
			cmd := exec.Command(s.bin, s.args...)
			s.mu.Lock()
			if s.stopping {
				s.mu.Unlock()
				return
			}
			cmd.Stdout, cmd.Stderr = &lockedWriter{&s.mu, &s.logs}, &lockedWriter{&s.mu, &s.logs}
			if err := cmd.Start(); err != nil {
				s.mu.Unlock()
				s.t.Errorf("start: %v", err)
				return
			}
			s.cur = cmd
			s.mu.Unlock()
			err := cmd.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			s.mu.Lock()
			s.exits = append(s.exits, code)
			stop := s.stopping || code == 0
			s.mu.Unlock()
			if stop {
				return
			}
			time.Sleep(50 * time.Millisecond) // RestartSec
		}
	}()
}

func (s *supervisor) stop() []int {
	s.mu.Lock()
	s.stopping = true
	if s.cur != nil && s.cur.ProcessState == nil {
		_ = s.cur.Process.Signal(syscall.SIGTERM)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.t.Fatal("supervised process did not stop")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.exits...)
}

func (s *supervisor) exitCodes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.exits...)
}

func (s *supervisor) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitVersion polls /healthz until the box answers with want.
func waitVersion(t *testing.T, s *supervisor, addr, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = strings.TrimSpace(string(b))
			if resp.StatusCode == 200 && last == "meshbox "+want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("box never answered version %s (last %q); exits %v\n%s", want, last, s.exitCodes(), s.log())
}

func waitFor(t *testing.T, s *supervisor, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; exits %v\n%s", what, s.exitCodes(), s.log())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func pushUpdate(t *testing.T, addr, token, bin string) (int, map[string]any) {
	t.Helper()
	body, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/update", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// testEndToEnd runs the factory build under a restarting supervisor and
// updates it over HTTP: a good update, a crashing one, an unhealthy one and
// a garbage upload, checking versions served, exit codes and rollbacks.
func testEndToEnd(t *testing.T, r releases) {
	root := t.TempDir()
	factory := filepath.Join(root, "usr/local/bin/meshbox")
	os.MkdirAll(filepath.Dir(factory), 0o755)
	if err := os.WriteFile(factory, mustRead(t, r.v1), 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, "var/lib/meshbox")
	os.MkdirAll(state, 0o750)
	l := Layout{StateDir: state}
	u := &Updater{Layout: l}
	addr := freePort(t)
	s := &supervisor{t: t, bin: factory, args: []string{"serve", "-state", state, "-listen", addr, "-token", "tok"}}
	s.start()
	defer func() {
		if !s.stopping {
			s.stop()
		}
	}()
	waitVersion(t, s, addr, "1.0.0")

	// Wrong token: nothing happens.
	if code, _ := pushUpdate(t, addr, "wrong", r.v2); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	// 1. A good update: installed, exit 3, restarted into 2.0.0, confirmed.
	code, m := pushUpdate(t, addr, "tok", r.v2)
	if code != 200 || m["version"] != "2.0.0" || m["from"] != "1.0.0" {
		t.Fatalf("update to v2: %d %v\n%s", code, m, s.log())
	}
	waitVersion(t, s, addr, "2.0.0")
	waitFor(t, s, "v2 to confirm", func() bool { _, ok := u.PendingUpdate(); return !ok })
	if got := s.exitCodes(); len(got) != 1 || got[0] != ExitCodeRestart {
		t.Fatalf("exit codes after the update %v, want [3]", got)
	}

	// 2. A binary that passes "version" but crashes when serving: one
	// failed start, then rolled back to 2.0.0.
	code, m = pushUpdate(t, addr, "tok", r.crash)
	if code != 200 || m["version"] != "4.0.0-crash" {
		t.Fatalf("update to crash build: %d %v", code, m)
	}
	waitFor(t, s, "the crash rollback", func() bool { rb, ok := u.LastRollback(); return ok && rb.Version == "4.0.0-crash" })
	waitVersion(t, s, addr, "2.0.0")
	if got := s.exitCodes(); len(got) != 3 || got[1] != ExitCodeRestart || got[2] != 1 {
		t.Fatalf("exit codes %v, want [3 3 1]", got)
	}
	if sha(t, l.Current()) != sha(t, r.v2) {
		t.Fatal("current binary is not v2 after the rollback")
	}

	// 3. A binary that runs but never reports healthy: it exits 1 after the
	// confirm timeout and the next start rolls back.
	code, m = pushUpdate(t, addr, "tok", r.unhealthy)
	if code != 200 || m["version"] != "5.0.0-sick" {
		t.Fatalf("update to unhealthy build: %d %v", code, m)
	}
	waitFor(t, s, "the unhealthy rollback", func() bool { rb, ok := u.LastRollback(); return ok && rb.Version == "5.0.0-sick" })
	waitVersion(t, s, addr, "2.0.0")

	// 4. Garbage is refused before anything changes; the box keeps running.
	before := len(s.exitCodes())
	if code, m := pushUpdate(t, addr, "tok", r.garbage); code != 400 {
		t.Fatalf("garbage: %d %v", code, m)
	}
	waitVersion(t, s, addr, "2.0.0")

	// 5. A deliberate stop exits 0 and is not restarted.
	exits := s.stop()
	if len(exits) != before+1 || exits[len(exits)-1] != 0 {
		t.Fatalf("exit codes %v: want a final 0 after SIGTERM", exits)
	}
	if _, ok := u.PendingUpdate(); ok {
		t.Fatal("pending marker left behind")
	}
}
