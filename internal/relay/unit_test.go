package relay

import (
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c := DefaultConfig()
	if c.MaxConnections != 2000 || c.MaxPendingPerIP != 10 || c.RateLimit != 50 || c.MaxSize != 262144 ||
		len(c.TrustedProxies) != 0 || c.PingInterval != 20*time.Second || c.PingTimeout != 20*time.Second ||
		c.AuthTimeout != 5*time.Second || c.RouteTimeout != 5*time.Second || c.MaxOutstandingRoutes != 16 ||
		c.SendTimeout != 2*time.Second || c.PipeRateLimit != 1000 {
		t.Fatalf("DefaultConfig() = %+v", c)
	}
	if !reflect.DeepEqual(c.AllowedOrigins, []string{"http://127.0.0.1", "http://localhost"}) {
		t.Fatalf("origins %v", c.AllowedOrigins)
	}
}

func TestApplyEnv(t *testing.T) {
	env := map[string]string{
		"MESH_MAX_CONNECTIONS": "77", "MESH_MAX_PENDING_PER_IP": "3", "MESH_RATE_LIMIT": "9",
		"MESH_MAX_SIZE": "1024", "MESH_TRUSTED_PROXIES": "10.0.0.1, 127.0.0.1", "MESH_AUTH_TOKEN": "sekrit",
		"MESH_ALLOWED_ORIGINS": "https://app.example.com:8443", "MESH_ROUTE_TIMEOUT": "0.3",
		"MESH_PING_INTERVAL": "5s", "MESH_LENIENT_NAMES": "true", "MESHBOX_PIPE_RATE_LIMIT": "0",
	}
	c := DefaultConfig()
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.MaxConnections != 77 || c.MaxPendingPerIP != 3 || c.RateLimit != 9 || c.MaxSize != 1024 ||
		!reflect.DeepEqual(c.TrustedProxies, []string{"10.0.0.1", "127.0.0.1"}) || c.AuthToken != "sekrit" ||
		!reflect.DeepEqual(c.AllowedOrigins, []string{"https://app.example.com:8443"}) ||
		c.RouteTimeout != 300*time.Millisecond || c.PingInterval != 5*time.Second || c.PingTimeout != 20*time.Second ||
		!c.LenientNames || c.PipeRateLimit != -1 {
		t.Fatalf("after ApplyEnv: %+v", c)
	}
	c = DefaultConfig()
	_ = c.ApplyEnv(func(k string) string { return map[string]string{"MESH_RATE_LIMIT": "0"}[k] })
	if c.RateLimit >= 0 {
		t.Fatalf("MESH_RATE_LIMIT=0 should disable, got %d", c.RateLimit)
	}
	for k, v := range map[string]string{"MESH_RATE_LIMIT": "x", "MESH_MAX_SIZE": "-1", "MESH_AUTH_TIMEOUT": "soon",
		"MESH_TRUSTED_PROXIES": "not-an-ip", "MESH_LENIENT_NAMES": "maybe"} {
		c := DefaultConfig()
		err := c.ApplyEnv(func(n string) string {
			if n == k {
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: err = %v, want one naming the variable", k, v, err)
		}
	}
}

func TestOriginExactMatch(t *testing.T) {
	allowed := map[string]bool{}
	for _, o := range DefaultConfig().AllowedOrigins {
		allowed[normOrigin(o)] = true
	}
	for o, want := range map[string]bool{"": true, "http://localhost": true, "http://LOCALHOST/": true,
		"http://127.0.0.1": true, "http://localhost.evil.com": false, "http://localhost:3000": false, "https://localhost": false} {
		if got := originAllowed(o, allowed); got != want {
			t.Errorf("originAllowed(%q) = %v, want %v", o, got, want)
		}
	}
	custom := map[string]bool{normOrigin("https://app.example.com:8443"): true}
	if !originAllowed("https://app.example.com:8443", custom) || originAllowed("http://localhost", custom) {
		t.Error("custom origin list")
	}
}

func TestForwardedHeaders(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("X-Real-IP", "1.2.3.4")
	r.Header.Set("X-Forwarded-For", "5.6.7.8, 9.9.9.9")
	if ip := clientIP(r, nil); ip != "127.0.0.1" {
		t.Errorf("untrusted: %s", ip)
	}
	trusted, _ := parsePrefixes([]string{"10.0.0.1", "127.0.0.0/8"})
	if ip := clientIP(r, trusted); ip != "1.2.3.4" {
		t.Errorf("trusted, X-Real-IP: %s", ip)
	}
	r.Header.Del("X-Real-IP")
	if ip := clientIP(r, trusted); ip != "5.6.7.8" {
		t.Errorf("trusted, XFF: %s", ip)
	}
	r.RemoteAddr = "192.168.1.2:1"
	if ip := clientIP(r, trusted); ip != "192.168.1.2" {
		t.Errorf("other peer: %s", ip)
	}
}

func TestTokenCompare(t *testing.T) {
	p := newPolicy(&Config{AuthToken: "tok"})
	for tok, want := range map[string]bool{"tok": true, "to": false, "tokk": false, "": false, "TOK": false} {
		if p.tokenOK(tok) != want {
			t.Errorf("tokenOK(%q) != %v", tok, want)
		}
	}
	if open := newPolicy(&Config{}); !open.tokenOK("") || !open.tokenOK("anything") {
		t.Error("open relay must accept anything")
	}
}

func TestParseBool(t *testing.T) {
	for raw, want := range map[string]bool{"true": true, "false": false, `"yes"`: true, `" On "`: true,
		`"1"`: true, `"no"`: false, `"x"`: false, "1": true /* default */, "null": true, "": true, "[]": true} {
		if got := parseBool(json.RawMessage(raw), true); got != want {
			t.Errorf("parseBool(%s, true) = %v, want %v", raw, got, want)
		}
	}
	if parseBool(json.RawMessage("1"), false) {
		t.Error("a number must give the default")
	}
}

func TestParseIdentifyRoles(t *testing.T) {
	cfg := DefaultConfig()
	p := newPolicy(&cfg)
	ph := func() string { return "Client-x" }
	for _, tc := range []struct {
		payload              string
		bcast, route, mon, g bool
	}{
		{`{"name":"a"}`, true, true, false, false},
		{`{"name":"a","role":"hub"}`, true, true, false, false},
		{`{"name":"a","role":"controller"}`, true, true, false, false},
		{`{"name":"a","role":"device"}`, true, false, false, false},
		{`{"name":"a","role":"viewer"}`, false, false, false, false},
		{`{"name":"a","role":"dashboard"}`, true, true, true, true},
		{`{"name":"a","role":"dashboard","broadcast_scope":"channel"}`, true, true, true, false},
		{`{"name":"a","role":"viewer","can_monitor":"on","can_broadcast":1}`, false, false, true, true},
	} {
		id, why := parseIdentify([]byte(tc.payload), "", p, ph)
		if why != "" || id.canBroadcast != tc.bcast || id.canRoute != tc.route || id.canMonitor != tc.mon || id.scopeGlobal != tc.g {
			t.Errorf("%s: %+v %q", tc.payload, id, why)
		}
	}
	lenient := newPolicy(&Config{LenientNames: true})
	if id, why := parseIdentify([]byte(`{"name":"Living Room iPad"}`), "", lenient, ph); why != "" || id.name != "Living Room iPad" {
		t.Errorf("lenient: %+v %q", id, why)
	}
	if _, why := parseIdentify([]byte(`{"name":"bad\nname"}`), "", lenient, ph); why == "" {
		t.Error("lenient accepts control characters")
	}
}

func TestIDGen(t *testing.T) {
	g := newIDGen()
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := g.next()
		if len(id) != 36 || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestRateWindow(t *testing.T) {
	w := rateWindow{limit: 3}
	base := time.Hour
	for i := 0; i < 3; i++ {
		if !w.allow(base + time.Duration(i)*time.Millisecond) {
			t.Fatal("within limit refused")
		}
	}
	if w.allow(base + 10*time.Millisecond) {
		t.Fatal("4th frame in one second allowed")
	}
	if !w.allow(base + 1100*time.Millisecond) {
		t.Fatal("frame after the window refused")
	}
}

// relay.memory_limit_mb sets the runtime's soft memory limit unless
// GOMEMLIMIT (or an earlier call) set one.
func TestMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	debug.SetMemoryLimit(math.MaxInt64)
	New(Config{MemoryLimitMB: 64}, nil)
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Fatalf("limit %d, want 64 MiB", got)
	}
	New(Config{MemoryLimitMB: 32}, nil) // already set: kept
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Fatalf("limit %d, want it kept at 64 MiB", got)
	}
}
