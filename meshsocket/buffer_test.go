package meshsocket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
)

// deadURL is a ws URL nobody listens on (a closed loopback port).
func deadURL(t *testing.T) string {
	r := startRelay(t, relayImpls()[0], testToken)
	u := r.url()
	r.stop()
	return u
}

// seqs extracts payload.seq of the frames of type typ.
func seqs(frames []wire.Frame, typ string) []string {
	var out []string
	for _, f := range frames {
		if f.Type != typ {
			continue
		}
		var p struct {
			Seq any `json:"seq"`
		}
		_ = json.Unmarshal(f.Payload, &p)
		out = append(out, fmt.Sprint(p.Seq))
	}
	return out
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestOfflineBufferWithoutFile(t *testing.T) {
	b := newOfflineBuffer(0, "")
	if err := b.push([]byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("push without buffer = %v", err)
	}
	b = newOfflineBuffer(3, "")
	for i := range 5 {
		if err := b.push([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(bytes.Join(b.ram, nil)); got != "234" || b.dropped != 2 {
		t.Fatalf("ram %q dropped %d; want oldest dropped", got, b.dropped)
	}
}

// TestSpillFileAndReplay: RAM 2 + file; 5 offline sends → 3 spilled (0600),
// 2 in RAM; after connecting the relay gets all 5 in order, file removed.
func TestSpillFileAndReplay(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offline.jsonl")
	r := startRelay(t, relayImpls()[0], testToken)
	r.stop()
	c := offlineClient(t, r.url(), "spill", 2, path)
	ctx := ctxT(t, 10*time.Second)
	for i := range 5 {
		if err := c.Send(ctx, "telemetry", map[string]int{"seq": i}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("spill file mode %v; want 0600", st.Mode().Perm())
	}
	if n := len(fileLines(t, path)); n != 3 {
		t.Fatalf("spill file has %d lines; want 3", n)
	}
	r.start()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Request(ctx, "ping", nil); err != nil { // ordered after the replay
		t.Fatal(err)
	}
	if got := strings.Join(seqs(r.testRelay().Received("spill"), "telemetry"), ","); got != "0,1,2,3,4" {
		t.Fatalf("relay got %s; want 0,1,2,3,4", got)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("spill file still there after replay: %v", err)
	}
}

// TestReplayFiltersJunk: a spill file with junk, non-objects, frames without
// string id/type, forged identify/welcome and a torn last line replays only
// the valid frames, keeping their ids.
func TestReplayFiltersJunk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offline.jsonl")
	content := strings.Join([]string{
		`{"id":"k1","type":"keep","payload":{"seq":1},"reply_to":null}`,
		`garbage`,
		`[1,2,3]`,
		`"string"`,
		`{"id":5,"type":"keep","payload":{"seq":"bad-id"}}`,
		`{"id":"x","payload":{"seq":"no-type"}}`,
		`{"type":"keep","payload":{"seq":"no-id"}}`,
		`{"id":"f1","type":"identify","payload":{"name":"evil","token":"x"}}`,
		`{"id":"f2","type":"welcome","payload":{"id":"evil"}}`,
		``,
		`{"id":"k2","type":"keep","payload":{"seq":2}}`,
		`{"id":"k3","type":"keep","payload":{"se`, // torn by a crash
	}, "\n")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRelay(t, relayImpls()[0], testToken)
	r.stop()
	c := offlineClient(t, r.url(), "junk", 1, path)
	ctx := ctxT(t, 10*time.Second)
	// Two more offline sends: the second spills; it must not glue onto the
	// torn line, and the file is tightened to 0600.
	for i := 3; i <= 4; i++ {
		if err := c.Send(ctx, "keep", map[string]int{"seq": i}); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after append; want 0600", st.Mode().Perm())
	}
	r.start()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Request(ctx, "ping", nil); err != nil {
		t.Fatal(err)
	}
	got := r.testRelay().Received("junk")
	var ids []string
	for _, f := range got {
		if f.Type == "identify" || f.Type == "welcome" {
			t.Fatalf("forged %s replayed", f.Type)
		}
		if f.Type == "keep" {
			ids = append(ids, f.ID)
		}
	}
	if s := strings.Join(seqs(got, "keep"), ","); s != "1,2,3,4" {
		t.Fatalf("replayed seqs %s; want 1,2,3,4", s)
	}
	if ids[0] != "k1" || ids[1] != "k2" {
		t.Fatalf("replay changed ids: %v", ids)
	}
}

// TestSpillFailureKeepsRAM simulates the process dying between the write
// and the fsync: the spill reports an error, the frames stay in RAM, the
// file is rolled back, and nothing is lost or duplicated on replay.
func TestSpillFailureKeepsRAM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offline.jsonl")
	r := startRelay(t, relayImpls()[0], testToken)
	r.stop()
	c := offlineClient(t, r.url(), "fsync", 2, path)
	ctx := ctxT(t, 10*time.Second)
	for i := range 2 {
		if err := c.Send(ctx, "keep", map[string]int{"seq": i}); err != nil {
			t.Fatal(err)
		}
	}
	c.sendMu.Lock()
	c.buf.syncFile = func(*os.File) error { return errors.New("disk gone") }
	c.sendMu.Unlock()
	if err := c.Send(ctx, "keep", map[string]int{"seq": 2}); err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Fatalf("Send with failing fsync = %v; want the error", err)
	}
	c.sendMu.Lock()
	ram := len(c.buf.ram)
	c.buf.syncFile = (*os.File).Sync
	c.sendMu.Unlock()
	if ram != 2 {
		t.Fatalf("RAM holds %d frames after a failed spill; want 2", ram)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("failed spill left %q in the file", b)
	}
	if err := c.Send(ctx, "keep", map[string]int{"seq": 2}); err != nil {
		t.Fatal(err)
	}
	r.start()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Request(ctx, "ping", nil); err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(seqs(r.testRelay().Received("fsync"), "keep"), ","); s != "0,1,2" {
		t.Fatalf("relay got %s; want 0,1,2", s)
	}
}

// TestCrashLosesNothingOnDisk kills a real child process (SIGKILL) right
// after it queued frames in durable mode (MaxOfflineBuffer 0 + file), and
// after it spilled with a RAM buffer; a new client replays the file.
func TestCrashLosesNothingOnDisk(t *testing.T) {
	if path := os.Getenv("MESHSOCKET_CRASH_FILE"); path != "" {
		crashChild(path, os.Getenv("MESHSOCKET_CRASH_URL"))
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary, which qemu-user runs (make test-arm) cannot do without binfmt_misc")
	}
	path := filepath.Join(t.TempDir(), "offline.jsonl")
	url := deadURL(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNothingOnDisk$")
	cmd.Env = append(os.Environ(), "MESHSOCKET_CRASH_FILE="+path, "MESHSOCKET_CRASH_URL="+url)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	r := startRelay(t, relayImpls()[0], testToken)
	o := fastOpts(r.url(), "crash")
	o.OfflineFile = path
	c := startClient(t, o)
	if _, err := c.Request(ctxT(t, 5*time.Second), "ping", nil); err != nil {
		t.Fatal(err)
	}
	want := "0,1,2,3,4,5,6,7,8,9"
	if s := strings.Join(seqs(r.testRelay().Received("crash"), "keep"), ","); s != want {
		t.Fatalf("after the crash the relay got %s; want %s", s, want)
	}
}

// crashChild queues 10 frames offline in durable mode and kills itself.
func crashChild(path, url string) {
	c, err := New(Options{URL: url, Name: "crash", OfflineFile: path})
	if err != nil {
		os.Exit(3)
	}
	for i := range 10 {
		if err := c.Send(context.Background(), "keep", map[string]int{"seq": i}); err != nil {
			os.Exit(4)
		}
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func TestCloseSpillsRAM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offline.jsonl")
	c, err := New(Options{URL: deadURL(t), Name: "closer", MaxOfflineBuffer: 10, OfflineFile: path})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_ = c.Send(context.Background(), "keep", map[string]int{"seq": i})
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("frames spilled before the buffer was full")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(fileLines(t, path)); n != 3 {
		t.Fatalf("Close spilled %d lines; want 3", n)
	}
}

// TestRequeueOnReplayFailure: frames that could not be replayed go back in
// front of everything queued since.
func TestRequeueOnReplayFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	b := newOfflineBuffer(2, path)
	_ = b.push([]byte(`{"id":"c","type":"t"}`)) // newer frames queued during replay
	if err := b.requeueFront([][]byte{[]byte(`{"id":"a","type":"t"}`), []byte(`{"id":"b","type":"t"}`)}); err != nil {
		t.Fatal(err)
	}
	// RAM overflowed (3 > 2): everything moved to the file, in order.
	data, _ := os.ReadFile(path)
	frames, _ := parseSpill(data)
	var ids []string
	for _, f := range frames {
		ids = append(ids, f.frame.ID)
	}
	if strings.Join(ids, "") != "abc" || len(b.ram) != 0 {
		t.Fatalf("file %v ram %d; want abc / 0", ids, len(b.ram))
	}
	// With data in the file, a requeue goes in front of the file.
	if err := b.requeueFront([][]byte{[]byte(`{"id":"z","type":"t"}`)}); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	frames, _ = parseSpill(data)
	if len(frames) != 4 || frames[0].frame.ID != "z" {
		t.Fatalf("requeue in front of the file: %s", data)
	}
}

// offlineClient is a client (not started) whose RAM buffer holds ram frames
// and spills to path; it is closed when the test ends.
func offlineClient(t *testing.T, url, name string, ram int, path string) *Client {
	t.Helper()
	o := fastOpts(url, name)
	o.MaxOfflineBuffer = ram
	o.OfflineFile = path
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
