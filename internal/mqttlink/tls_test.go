package mqttlink

import (
	"github.com/meshbox/meshbox/internal/logtest"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/mqttlink/mqtttest"
	"github.com/meshbox/meshbox/internal/testcert"
)

// tlsSetup is a throw-away CA with a server certificate for the loopback
// broker, and a second, unrelated CA.
type tlsSetup struct {
	dir          string
	ca, rogue    *testcert.CA
	caFile       string
	rogueCAFile  string
	serverCert   string
	serverKey    string
	clientCert   string // signed by ca, CN "box1"
	clientKey    string
	rogueCliCert string // signed by rogue, CN "box1"
	rogueCliKey  string
}

func newTLSSetup(t *testing.T) *tlsSetup {
	t.Helper()
	s := &tlsSetup{dir: t.TempDir(), ca: testcert.NewCA(t, "meshbox test CA"), rogue: testcert.NewCA(t, "rogue CA")}
	s.caFile = s.ca.WriteCA(t, s.dir, "ca.pem")
	s.rogueCAFile = s.rogue.WriteCA(t, s.dir, "rogue-ca.pem")
	s.serverCert, s.serverKey = s.ca.Server(t, "127.0.0.1", "localhost").Write(t, s.dir, "server")
	s.clientCert, s.clientKey = s.ca.Client(t, "box1").Write(t, s.dir, "client")
	s.rogueCliCert, s.rogueCliKey = s.rogue.Client(t, "box1").Write(t, s.dir, "rogue-client")
	return s
}

// tlsOptions builds Options from an mqtt: section, as the box does.
func tlsOptions(t *testing.T, b *mqtttest.Broker, base string, c config.MQTT) Options {
	t.Helper()
	c.URL = b.TLSURL().String()
	c.BaseTopic = base
	c.QoS = 1
	o, err := FromConfig(&c, "box1", "")
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	if o.TLS == nil {
		t.Fatal("mqtts:// gave no TLS config")
	}
	o.ClientID = "meshbox-" + strings.ReplaceAll(base, "/", "-")
	o.MinBackoff, o.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
	return o
}

// runLinkLogged is runLink with the link's log kept in lt.
func runLinkLogged(t *testing.T, o Options, lt *logtest.Tail) *running {
	t.Helper()
	return startLink(t, New(o, newFakeHub(testValues()), testControls(), lt.Logger()))
}

// refused waits for two failed connects (the first and a retry) and
// checks the link never came up; it returns the error the link logged.
func refused(t *testing.T, r *running, lt *logtest.Tail, w *mqtttest.Watcher, base string) string {
	t.Helper()
	lines := lt.WaitLines(2, 10*time.Second, "mqtt connect failed")
	if r.link.Connected() || r.link.Stats().Connects != 0 {
		t.Errorf("link connected through a bad TLS setup: %+v", r.link.Stats())
	}
	if p, ok := w.Last(base + "/availability"); ok {
		t.Errorf("refused link published availability %q", p)
	}
	return lines[0]
}

// mqtts:// with the CA file: the link verifies the broker and publishes;
// with an unrelated CA it never connects, says why, and keeps retrying.
func TestMQTTSWithCAFile(t *testing.T) {
	s := newTLSSetup(t)
	b := mqtttest.StartWith(t, mqtttest.Options{TLS: &mqtttest.TLS{CertFile: s.serverCert, KeyFile: s.serverKey}})
	w := mqtttest.Watch(t, b, "", "", "meshbox/#")

	good := runLinkLogged(t, tlsOptions(t, b, "meshbox/good", config.MQTT{CAFile: s.caFile}), logtest.New(t))
	w.WaitFor("meshbox/good/availability", "online", 10*time.Second)
	w.WaitFor("meshbox/good/climate_temperature/state", "21.5", 5*time.Second)
	w.WaitFor("meshbox/good/lamp/state", "OFF", 5*time.Second)
	if !good.link.Connected() {
		t.Error("link with the right CA is not connected")
	}

	lt := logtest.New(t)
	bad := runLinkLogged(t, tlsOptions(t, b, "meshbox/bad", config.MQTT{CAFile: s.rogueCAFile}), lt)
	msg := refused(t, bad, lt, w, "meshbox/bad")
	if !strings.Contains(msg, "certificate signed by unknown authority") || !strings.Contains(msg, "mqtt.ca_file") {
		t.Errorf("wrong-CA log line does not name the cause: %s", msg)
	}
	t.Logf("wrong CA: %s", msg)

	// No CA file: the system roots do not know the throw-away CA either.
	lt2 := logtest.New(t)
	sys := runLinkLogged(t, tlsOptions(t, b, "meshbox/sysroots", config.MQTT{}), lt2)
	refused(t, sys, lt2, w, "meshbox/sysroots")

	// A commanded change still flows on the good link after all that.
	w.Publish("meshbox/good/lamp/set", "ON")
	w.WaitFor("meshbox/good/lamp/state", "ON", 5*time.Second)
}

// Mutual TLS: the broker requires a client certificate from its CA. The
// link with cert_file/key_file connects and takes commands; without a
// client certificate, or with one from another CA, it is refused.
func TestMQTTSMutualTLS(t *testing.T) {
	s := newTLSSetup(t)
	b := mqtttest.StartWith(t, mqtttest.Options{TLS: &mqtttest.TLS{
		CAFile: s.caFile, CertFile: s.serverCert, KeyFile: s.serverKey,
		RequireCertificate: true, UseIdentityAsUsername: true,
	}})
	w := mqtttest.Watch(t, b, "", "", "meshbox/#")

	good := runLinkLogged(t, tlsOptions(t, b, "meshbox/mtls", config.MQTT{CAFile: s.caFile, CertFile: s.clientCert, KeyFile: s.clientKey}), logtest.New(t))
	w.WaitFor("meshbox/mtls/availability", "online", 10*time.Second)
	w.WaitFor("meshbox/mtls/climate_temperature/state", "21.5", 5*time.Second)
	w.Publish("meshbox/mtls/lamp/set", "ON")
	w.WaitFor("meshbox/mtls/lamp/state", "ON", 5*time.Second)
	if !good.link.Connected() {
		t.Error("link with a client certificate is not connected")
	}

	lt := logtest.New(t)
	nocert := runLinkLogged(t, tlsOptions(t, b, "meshbox/nocert", config.MQTT{CAFile: s.caFile}), lt)
	msg := refused(t, nocert, lt, w, "meshbox/nocert")
	t.Logf("no client cert: %s", msg)
	if !strings.Contains(msg, "may require a client certificate") {
		t.Errorf("no-cert log line gives no hint: %s", msg)
	}

	lt2 := logtest.New(t)
	rogue := runLinkLogged(t, tlsOptions(t, b, "meshbox/roguecert", config.MQTT{CAFile: s.caFile, CertFile: s.rogueCliCert, KeyFile: s.rogueCliKey}), lt2)
	msg = refused(t, rogue, lt2, w, "meshbox/roguecert")
	t.Logf("client cert from another CA: %s", msg)
	if !strings.Contains(msg, "may not accept this client certificate") {
		t.Errorf("rogue-cert log line gives no hint: %s", msg)
	}

	// The broker's side of the story (Debian's OpenSSL wording).
	log := b.Log()
	for _, want := range []string{"u'box1'", "peer did not return a certificate", "certificate verify failed"} {
		if !strings.Contains(log, want) {
			t.Errorf("mosquitto log lacks %q:\n%s", want, log)
		}
	}
}

// Bad TLS files are config errors, not run-time surprises.
func TestMQTTSConfigErrors(t *testing.T) {
	s := newTLSSetup(t)
	for _, c := range []struct {
		name string
		cfg  config.MQTT
		want string
	}{
		{"missing CA", config.MQTT{CAFile: s.dir + "/nope.pem"}, "mqtt.ca_file"},
		{"CA is a key", config.MQTT{CAFile: s.clientKey}, "no PEM certificate"},
		{"key without cert", config.MQTT{KeyFile: s.clientKey}, "mqtt.cert_file/key_file"},
		{"key of another cert", config.MQTT{CertFile: s.clientCert, KeyFile: s.rogueCliKey}, "mqtt.cert_file/key_file"},
	} {
		c.cfg.URL = "mqtts://127.0.0.1:8883"
		_, err := FromConfig(&c.cfg, "box1", "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
