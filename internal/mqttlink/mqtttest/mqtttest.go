// Package mqtttest runs a real Debian mosquitto on a loopback port for
// tests (optionally with a password file and a TLS listener, mutual TLS
// included), and a plain MQTT subscriber that records what it receives.
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
	t       testing.TB
	dir     string
	port    int
	tlsPort int // 0 without a TLS listener
	conf    string
	bin     string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	logFile string
}

// Options configure the broker.
type Options struct {
	// User and Pass, when User is set, are required on every listener.
	User, Pass string
	// TLS adds a second listener (TLSAddr, TLSURL) speaking MQTT over TLS.
	// The plain listener (Addr, URL) stays, for the Watcher.
	TLS *TLS
}

// TLS is the TLS listener's setup (mosquitto's option names). The files
// are copied into a directory the broker can read after it drops to the
// mosquitto user, so they may live in t.TempDir().
type TLS struct {
	CAFile   string // cafile: CA for client certificates
	CertFile string // certfile: server certificate (PEM)
	KeyFile  string // keyfile: server key (PEM)
	// RequireCertificate refuses clients without a certificate signed by
	// CAFile (mutual TLS).
	RequireCertificate bool
	// UseIdentityAsUsername makes the client certificate's common name
	// the MQTT user name.
	UseIdentityAsUsername bool
}

// Start starts mosquitto. With user != "", the listener requires that
// user and password.
func Start(t testing.TB, user, pass string) *Broker {
	t.Helper()
	return StartWith(t, Options{User: user, Pass: pass})
}

// StartWith starts mosquitto as o says. Without mosquitto installed the
// test is skipped, or failed when the environment variable CI is set.
func StartWith(t testing.TB, o Options) *Broker {
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
	conf := fmt.Sprintf("persistence false\nlistener %d 127.0.0.1\n", b.port)
	// Run as root, mosquitto drops to its own user: the files it reads
	// must be readable by it, so they live in a world-readable directory.
	var shared string
	sharedDir := func() string {
		if shared == "" {
			d, err := os.MkdirTemp("", "mosquitto-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(d) })
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
			shared = d
		}
		return shared
	}
	if o.TLS != nil {
		b.tlsPort = FreePort(t)
		conf += fmt.Sprintf("listener %d 127.0.0.1\n", b.tlsPort)
		for _, f := range []struct{ key, src, name string }{
			{"cafile", o.TLS.CAFile, "ca.pem"},
			{"certfile", o.TLS.CertFile, "server.crt"},
			{"keyfile", o.TLS.KeyFile, "server.key"},
		} {
			if f.src == "" {
				continue
			}
			conf += f.key + " " + copyReadable(t, f.src, filepath.Join(sharedDir(), f.name)) + "\n"
		}
		if o.TLS.RequireCertificate {
			conf += "require_certificate true\n"
		}
		if o.TLS.UseIdentityAsUsername {
			conf += "use_identity_as_username true\n"
		}
	}
	if o.User != "" {
		pw := filepath.Join(sharedDir(), "passwd")
		if out, err := exec.Command("mosquitto_passwd", "-c", "-b", pw, o.User, o.Pass).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
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
	b.logFile = filepath.Join(b.dir, "mosquitto.log")
	b.bin = bin
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

// copyReadable copies src to dst with mode 0644 (a throw-away test key
// only) and returns dst.
func copyReadable(t testing.TB, src, dst string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	return dst
}

// Start (re)starts mosquitto on the same ports and waits until it listens.
// Its output is appended to a log shown when it fails to start.
func (b *Broker) Start() {
	b.t.Helper()
	logf, err := os.OpenFile(b.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	defer logf.Close()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	b.exited = exited
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(exited) }(b.cmd)
	addrs := []string{b.Addr()}
	if b.tlsPort != 0 {
		addrs = append(addrs, b.TLSAddr())
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range addrs {
		for {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				b.t.Fatalf("mosquitto exited at start: %s", b.Log())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				b.Stop()
				b.t.Fatalf("mosquitto did not listen on %s: %s", a, b.Log())
			}
		}
	}
}

// Stop kills mosquitto (no persistence: retained messages are lost).
func (b *Broker) Stop() {
	if b.exited == nil {
		return
	}
	select {
	case <-b.exited:
	default:
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
}

// Log returns what mosquitto has written so far.
func (b *Broker) Log() string {
	data, err := os.ReadFile(b.logFile)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// URL is mqtt://Addr.
func (b *Broker) URL() *url.URL { return &url.URL{Scheme: "mqtt", Host: b.Addr()} }

// TLSAddr is the TLS listener's host:port ("" without Options.TLS).
func (b *Broker) TLSAddr() string {
	if b.tlsPort == 0 {
		return ""
	}
	return fmt.Sprintf("127.0.0.1:%d", b.tlsPort)
}

// TLSURL is mqtts://TLSAddr (nil without Options.TLS).
func (b *Broker) TLSURL() *url.URL {
	if b.tlsPort == 0 {
		return nil
	}
	return &url.URL{Scheme: "mqtts", Host: b.TLSAddr()}
}

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

// PublishRetained sends payload to topic as a retained message (QoS 1);
// an empty payload clears the topic's retained message.
func (w *Watcher) PublishRetained(topic, payload string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.cli.Publish(ctx, &paho.Publish{Topic: topic, Payload: []byte(payload), QoS: 1, Retain: true}); err != nil {
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
