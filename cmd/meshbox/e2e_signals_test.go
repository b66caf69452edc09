package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestE2ESignals is finding 5: SIGHUP, SIGQUIT and SIGABRT (what the
// systemd watchdog sends) used to kill meshbox without the exit states.
// Each signal goes to a real meshbox child on the simulated board whose
// output starts on (boot: on) and must exit off; the simulated board logs
// every level it is driven to. SIGTERM and SIGINT exit 0 (a deliberate
// stop), the others 128+N so that systemd restarts the box.
func TestE2ESignals(t *testing.T) {
	bin := buildMeshbox(t, "sigtest")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "meshbox.yaml")
	if err := os.WriteFile(cfg, []byte("name: sigtest\noutputs:\n  - {id: heater, pin: 17, boot: on, exit: off}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{
		{syscall.SIGHUP, 128 + 1},
		{syscall.SIGQUIT, 128 + 3},
		{syscall.SIGABRT, 128 + 6},
		{syscall.SIGTERM, 0},
		{syscall.SIGINT, 0},
	} {
		t.Run(c.sig.String(), func(t *testing.T) {
			state := t.TempDir()
			var mu sync.Mutex
			var logs bytes.Buffer
			cmd := exec.Command(bin, "-sim", "-listen", "127.0.0.1:0", "-config", cfg)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + state, "MESHBOX_STATE_DIR=" + state,
				"MESHBOX_LOG_LEVEL=debug", "MESH_AUTH_TOKEN=signal-test-token-0123456789"}
			w := lockedBuffer{mu: &mu, b: &logs}
			cmd.Stdout, cmd.Stderr = w, w
			cmd.WaitDelay = 5 * time.Second
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			var waitErr error
			go func() { waitErr = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			read := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
			on := regexp.MustCompile(`msg="sim output claimed".* line=gpiochip0:17 level=true`)
			deadline := time.Now().Add(30 * time.Second)
			for !(on.MatchString(read()) && strings.Contains(read(), `msg="meshbox serving"`)) {
				if time.Now().After(deadline) {
					t.Fatalf("meshbox did not start serving with the heater on within 30s:\n%s", read())
				}
				time.Sleep(20 * time.Millisecond)
			}
			before := len(read())
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("meshbox still running 30s after %s:\n%s", c.sig, read())
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(waitErr, &ee) {
				code = ee.ExitCode() // -1: killed by the signal, no exit states
			} else if waitErr != nil {
				t.Fatal(waitErr)
			}
			after := read()[before:]
			if code != c.code {
				t.Fatalf("%s: exit %d, want %d\n%s", c.sig, code, c.code, after)
			}
			if !regexp.MustCompile(`msg="sim output".* line=gpiochip0:17 level=false`).MatchString(after) ||
				!strings.Contains(after, `msg="outputs in their exit state"`) {
				t.Fatalf("%s: the heater was not driven to its exit state (off):\n%s", c.sig, after)
			}
		})
	}
}

// lockedBuffer serialises a child's stdout and stderr into one buffer.
type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
