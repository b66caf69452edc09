package history

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func crashBase0() time.Time { return time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC) }

func crashTime(i int) time.Time { return crashBase0().Add(time.Duration(i) * 2 * time.Second) }

// TestCrashChild is the child process of TestSIGKILLDuringFlush: it writes
// readings of two series and flushes every 50, printing "flushed N" after
// each flush returns. With HISTORY_CRASH_HANG=K it stops in the middle of
// flush K (half of the burst written) and prints "midflush".
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("HISTORY_CRASH_DIR")
	if dir == "" {
		t.Skip("child process of TestSIGKILLDuringFlush")
	}
	hang, _ := strconv.Atoi(os.Getenv("HISTORY_CRASH_HANG"))
	var clock atomic.Int64
	s, err := Open(Options{Dir: dir, Now: func() time.Time { return time.UnixMilli(clock.Load()) }})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	start := 0
	if r, err := s.Query("a", crashBase0(), crashBase0().Add(1000*time.Hour), 0); err == nil {
		start = len(r.Times)
	}
	for k := 1; ; k++ {
		for i := start + (k-1)*50; i < start+k*50; i++ {
			clock.Store(crashTime(i).UnixMilli())
			s.Add("a", crashTime(i), sample(i))
			s.Add("b", crashTime(i), -sample(i))
		}
		if k == hang {
			s.midWrite = func() {
				fmt.Println("midflush")
				select {}
			}
		}
		if err := s.Flush(); err != nil {
			fmt.Println("flush:", err)
			os.Exit(2)
		}
		fmt.Println("flushed", start+k*50)
	}
}

// crashChild runs the child until it prints stop (or a flush count of at
// least stop when stop is a number), then SIGKILLs it. It returns the last
// flushed count.
func crashChild(t *testing.T, dir string, hang int, killAfter int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "HISTORY_CRASH_DIR="+dir, fmt.Sprintf("HISTORY_CRASH_HANG=%d", hang))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	flushed := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "flushed "); ok {
			flushed, _ = strconv.Atoi(n)
			if killAfter > 0 && flushed >= killAfter {
				break
			}
		}
		if line == "midflush" {
			break
		}
		if strings.HasPrefix(line, "open:") || strings.HasPrefix(line, "flush:") {
			t.Fatal("child: " + line)
		}
	}
	_ = cmd.Process.Kill() // SIGKILL
	_ = cmd.Wait()
	return flushed
}

// checkPrefix asserts the store in dir holds exactly readings 0..n-1 of
// both series for some n >= atLeast, unchanged, and returns n.
func checkPrefix(t *testing.T, dir string, atLeast, atMost int) int {
	t.Helper()
	s, err := Open(Options{Dir: dir, Now: func() time.Time { return crashTime(atMost + 1) }})
	if err != nil {
		t.Fatal(err)
	}
	n := -1
	for _, name := range []string{"a", "b"} {
		r, err := s.Query(name, crashBase0(), crashTime(atMost+1), 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, ts := range r.Times {
			want := sample(i)
			if name == "b" {
				want = -want
			}
			if ts != crashTime(i).UnixMilli() || r.Avg[i] != want {
				t.Fatalf("%s point %d is %d=%v, want %d=%v: corrupted", name, i, ts, r.Avg[i], crashTime(i).UnixMilli(), want)
			}
		}
		if len(r.Times) < atLeast || len(r.Times) > atMost {
			t.Fatalf("%s: %d points survive, want %d..%d", name, len(r.Times), atLeast, atMost)
		}
		if n >= 0 && n != len(r.Times) && len(r.Times)%50 != 0 {
			t.Fatalf("series differ: %d vs %d", n, len(r.Times))
		}
		n = len(r.Times)
	}
	return n
}

func TestSIGKILLDuringFlush(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	dir := t.TempDir()
	// 1. Killed with half a burst on disk: the torn record is skipped,
	// everything flushed before it is intact.
	flushed := crashChild(t, dir, 4, 0)
	if flushed != 150 {
		t.Fatalf("child flushed %d before hanging in flush 4", flushed)
	}
	n := checkPrefix(t, dir, 150, 150)
	// 2. The next run appends after the truncated tail; killed at random
	// points while flushing continuously, it loses at most the unflushed
	// window and never corrupts what is on disk.
	for round := range 3 {
		flushed = crashChild(t, dir, 0, n+100*(round+1))
		n = checkPrefix(t, dir, flushed, flushed+50)
	}
}
