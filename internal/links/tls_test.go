package links

import (
	"crypto/tls"
	"github.com/meshbox/meshbox/internal/logtest"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/testcert"
)

// startTLSRelay serves a fresh relay over TLS with cert on a loopback
// port; the HTTP server's own errors (TLS handshakes) go to errLog.
func startTLSRelay(t testing.TB, cert tls.Certificate, errLog *slog.Logger) *relayServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relayServer{srv: relay.New(relay.Config{AuthToken: testToken}, testLogger(t)), addr: ln.Addr().String(), tls: true}
	r.hs = &http.Server{
		Handler:   r.srv,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ErrorLog:  slog.NewLogLogger(errLog.Handler(), slog.LevelWarn),
	}
	go r.hs.ServeTLS(ln, "", "")
	t.Cleanup(r.stop)
	return r
}

// Box B joins a wss:// relay trusting it through upstream.ca_file: a
// phone on that relay sees B's prefixed sensors and switches B's lamp.
// Box C, given an unrelated CA, is refused by its own TLS check, says
// why, keeps retrying, and stops cleanly.
func TestUpstreamWSSWithCAFile(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "meshbox test CA")
	rogue := testcert.NewCA(t, "rogue CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	rogueFile := rogue.WriteCA(t, dir, "rogue-ca.pem")
	relayLog := logtest.New(t)
	rs := startTLSRelay(t, ca.Server(t, "127.0.0.1", "localhost").TLS(t), relayLog.Logger())
	if !strings.HasPrefix(rs.url(), "wss://") {
		t.Fatalf("relay url %s", rs.url())
	}

	cfgB := fastDemo("boxb")
	cfgB.Upstream = &config.Upstream{URL: rs.url(), Token: testToken, CAFile: caFile}
	b := startBox(t, cfgB)
	up, ok := UpstreamFromConfig(cfgB)
	if !ok || up.CAFile != caFile {
		t.Fatalf("UpstreamFromConfig = %+v", up)
	}
	up.Client = fastUpstream
	start := time.Now()
	stop, err := JoinUpstream(b.b, up, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	ph := dialPhoneWith(t, &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, HandshakeTimeout: 5 * time.Second}, rs.url(), "iPhone")
	ph.wait("B's metrics over wss", 10*time.Second, and(isMsg("metrics", "source", "boxb.climate"), has("boxb.climate_temperature")))
	t.Logf("first metrics of box B on the wss relay after %v", time.Since(start).Round(time.Millisecond))
	ph.broadcast(`{"msg_type":"cmd","target":"boxb.lamp","value":true,"_cmd":"t1","_from":"iPhone"}`)
	ph.wait("boxb.lamp state", 5*time.Second, isMsg("state", "target", "boxb.lamp", "value", true))
	ph.wait("ack", 5*time.Second, isMsg("command_ack", "cmd_id", "t1", "ok", true))
	if !level(t, b, lampLine) {
		t.Error("box B's lamp pin is low after boxb.lamp on over wss")
	}

	// Box C trusts the wrong CA.
	cfgC := fastDemo("boxc")
	cfgC.Upstream = &config.Upstream{URL: rs.url(), Token: testToken, CAFile: rogueFile}
	c := startBox(t, cfgC)
	upC, _ := UpstreamFromConfig(cfgC)
	upC.Client = fastUpstream
	cLog := logtest.New(t)
	stopC, err := JoinUpstream(c.b, upC, cLog.Logger())
	if err != nil {
		t.Fatalf("JoinUpstream with a readable CA file: %v", err)
	}
	lines := cLog.WaitLines(3, 10*time.Second, "redialing", "certificate signed by unknown authority")
	t.Logf("wrong CA: %s", lines[0])
	if !strings.Contains(lines[0], rs.addr) {
		t.Errorf("the failure does not name the relay %s: %s", rs.addr, lines[0])
	}
	relayLog.WaitLines(1, 5*time.Second, "TLS handshake error", "bad certificate")
	stopped := make(chan struct{})
	go func() { stopC(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stopping a link that never connected hangs")
	}
	// Box C never reached the relay; box B is still fine.
	ph.broadcast(`{"msg_type":"control_sync_request","from":"iPhone"}`)
	ph.wait("B's snapshot", 5*time.Second, func(f map[string]any) bool {
		c, _ := f["controls"].(map[string]any)
		return f["msg_type"] == "control_snapshot" && c["boxb.lamp"] == true
	})
	for {
		select {
		case f := <-ph.in:
			if src, _ := f["source"].(string); strings.HasPrefix(src, "boxc.") {
				t.Fatalf("box C reached the relay through a wrong CA: %v", f)
			}
			if c, _ := f["controls"].(map[string]any); c["boxc.lamp"] != nil {
				t.Fatalf("box C's snapshot on the relay: %v", f)
			}
			continue
		default:
		}
		break
	}
}

// A CA file that cannot be read is a clear error at once, not a retry loop.
func TestUpstreamBadCAFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := func() string {
		_, k := testcert.NewCA(t, "x").Server(t, "127.0.0.1").Write(t, dir, "server")
		return k
	}()
	cfg := fastDemo("boxd")
	b := startBox(t, cfg)
	for _, c := range []struct{ file, want string }{
		{dir + "/missing.pem", "upstream.ca_file"},
		{keyFile, "no PEM certificates"},
	} {
		cfg.Upstream = &config.Upstream{URL: "wss://127.0.0.1:1/", Token: testToken, CAFile: c.file}
		up, _ := UpstreamFromConfig(cfg)
		stop, err := JoinUpstream(b.b, up, testLogger(t))
		if err == nil {
			stop()
			t.Errorf("CA file %s accepted", c.file)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("CA file %s: err = %v, want %q", c.file, err, c.want)
		}
	}
}
