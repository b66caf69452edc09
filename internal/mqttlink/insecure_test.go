package mqttlink

import (
	"crypto/tls"
	"net/url"
	"testing"

	"github.com/meshbox/meshbox/internal/logtest"
)

// TestWarnInsecure is finding 10: commands taken over a plain mqtt://
// connection without a broker user used to move pins silently. Each
// transport gets the warning it deserves at start, and TLS with a user
// none.
func TestWarnInsecure(t *testing.T) {
	for _, c := range []struct {
		name, url, user string
		tls             bool
		want            string // "" = no warning
	}{
		{"plain, no user", "mqtt://broker:1883", "", false, "unauthenticated plain connection"},
		{"websocket, no user", "ws://broker:9001/mqtt", "", false, "unauthenticated plain connection"},
		{"plain with a user", "mqtt://broker:1883", "box", false, "plain connection: the broker password and every command travel unencrypted"},
		{"tls with a user", "mqtts://broker:8883", "box", true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := url.Parse(c.url)
			if err != nil {
				t.Fatal(err)
			}
			o := Options{URL: u, Username: c.user, Base: "meshbox/shed"}
			if c.tls {
				o.TLS = &tls.Config{ServerName: "broker"}
			}
			logs := logtest.New(t)
			New(o, nil, nil, logs.Logger()).warnInsecure()
			got := logs.Matching("level=WARN", "mqtt")
			if c.want == "" {
				if len(got) != 0 {
					t.Fatalf("unexpected warning: %v", got)
				}
				return
			}
			if len(logs.Matching("level=WARN", c.want)) != 1 {
				t.Fatalf("want one warning %q, got:\n%s", c.want, logs.String())
			}
			if c.user == "" && len(logs.Matching("meshbox/shed/+/set")) == 0 {
				t.Errorf("the warning does not name the command topics:\n%s", logs.String())
			}
		})
	}
}
