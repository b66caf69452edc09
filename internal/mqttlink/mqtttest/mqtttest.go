// Package mqtttest runs a real Debian mosquitto on a loopback port for
// tests, and a plain MQTT subscriber that records what it receives.
// Without mosquitto installed the test is skipped (failed when CI is set).
package mqtttest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Broker is a real mosquitto on a loopback port, started by the test.
type Broker struct {
	t    testing.TB
	dir  string
	port int
	conf string
	bin  string
	cmd  *exec.Cmd
}

// Start starts mosquitto. With user != "", the listener requires that
// user and password.
func Start(t testing.TB, user, pass string) *Broker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mosquitto is not installed (CI must install Debian's mosquitto)")
		}
		t.Skip("mosquitto not installed: apt-get install mosquitto")
	}
	b := &Broker{t: t, dir: t.TempDir()}
	b.port = FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\npersistence false\n", b.port)
	if user != "" {
		// Run as root, mosquitto drops to its own user: the file must be
		// readable by it, so it lives in a world-readable directory.
		pwDir, err := os.MkdirTemp("", "mosquitto-pw-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(pwDir) })
		pw := filepath.Join(pwDir, "passwd")
		if out, err := exec.Command("mosquitto_passwd", "-c", "-b", pw, user, pass).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
		if err := os.Chmod(pwDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(pw, 0o644); err != nil {
			t.Fatal(err)
		}
		conf += "allow_anonymous false\npassword_file " + pw + "\n"
	} else {
		conf += "allow_anonymous true\n"
	}
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.bin = bin
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

// Start (re)starts mosquitto on the same port and waits until it listens.
func (b *Broker) Start() {
	b.t.Helper()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", b.Addr())
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.t.Fatalf("mosquitto did not listen on %s", b.Addr())
}

// Stop kills mosquitto (no persistence: retained messages are lost).
func (b *Broker) Stop() {
	if b.cmd != nil && b.cmd.Process != nil && b.cmd.ProcessState == nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
	}
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// URL is mqtt://Addr.
func (b *Broker) URL() *url.URL { return &url.URL{Scheme: "mqtt", Host: b.Addr()} }

// FreePort returns a free loopback TCP port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Watcher is a plain MQTT subscriber that records what it receives.
type Watcher struct {
	t   testing.TB
	cli *paho.Client

	mu   sync.Mutex
	msgs []paho.Publish
	ch   chan struct{}
}

// Watch connects a subscriber to b (with user/pass when user != "").
func Watch(t testing.TB, b *Broker, user, pass string, topics ...string) *Watcher {
	t.Helper()
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	w := &Watcher{t: t, ch: make(chan struct{}, 1)}
	w.cli = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			w.mu.Lock()
			w.msgs = append(w.msgs, *pr.Packet)
			w.mu.Unlock()
			select {
			case w.ch <- struct{}{}:
			default:
			}
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cp := &paho.Connect{ClientID: fmt.Sprintf("watch-%d", time.Now().UnixNano()), CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
		cp.Password, cp.PasswordFlag = []byte(pass), true
	}
	if _, err := w.cli.Connect(ctx, cp); err != nil {
		t.Fatalf("watcher connect: %v", err)
	}
	var subs []paho.SubscribeOptions
	for _, tp := range topics {
		subs = append(subs, paho.SubscribeOptions{Topic: tp, QoS: 1})
	}
	if _, err := w.cli.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs}); err != nil {
		t.Fatalf("watcher subscribe: %v", err)
	}
	t.Cleanup(func() { _ = w.cli.Disconnect(&paho.Disconnect{}) })
	return w
}

// WaitFor waits until a message on topic with payload arrives (any earlier
// one counts) and returns it.
func (w *Watcher) WaitFor(topic, payload string, timeout time.Duration) paho.Publish {
	w.t.Helper()
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		for _, m := range w.msgs {
			if m.Topic == topic && (payload == "*" || string(m.Payload) == payload) {
				w.mu.Unlock()
				return m
			}
		}
		w.mu.Unlock()
		select {
		case <-w.ch:
		case <-deadline:
			w.t.Fatalf("no message %q on %s within %v; got %s", payload, topic, timeout, w.Dump())
		}
	}
}

// Last returns the last payload seen on topic.
func (w *Watcher) Last(topic string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.msgs) - 1; i >= 0; i-- {
		if w.msgs[i].Topic == topic {
			return string(w.msgs[i].Payload), true
		}
	}
	return "", false
}

// Publish sends payload to topic (QoS 1, not retained).
func (w *Watcher) Publish(topic, payload string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.cli.Publish(ctx, &paho.Publish{Topic: topic, Payload: []byte(payload), QoS: 1}); err != nil {
		w.t.Fatalf("publish: %v", err)
	}
}

// Dump lists every message received.
func (w *Watcher) Dump() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var sb strings.Builder
	for _, m := range w.msgs {
		fmt.Fprintf(&sb, "\n  %s = %q (retain %v)", m.Topic, m.Payload, m.Retain)
	}
	return sb.String()
}
