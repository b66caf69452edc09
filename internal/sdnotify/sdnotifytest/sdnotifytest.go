// Package sdnotifytest stands in for systemd's notification socket in
// tests: a real unixgram socket whose datagrams (READY=1, WATCHDOG=1,
// STATUS=…) arrive on a channel.
package sdnotifytest

import (
	"net"
	"path/filepath"
	"testing"
)

// Listen opens the socket (NOTIFY_SOCKET is path) and delivers every
// datagram on msgs (buffered; closed when the socket is, at cleanup).
func Listen(t testing.TB) (path string, msgs <-chan string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 1000)
	done := make(chan struct{})
	go func() { // the reader: ends when the socket is closed
		defer close(done)
		defer close(ch)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			select {
			case ch <- string(buf[:n]):
			default: // nobody reads that far behind: drop, never block
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return path, ch
}
