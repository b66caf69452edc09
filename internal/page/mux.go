package page

import (
	"net/http"

	"github.com/gorilla/websocket"
)

// WithRelay returns the handler for the relay's port: WebSocket upgrades go
// to relay, everything else to the page.
//
// The relay rejects browser Origins outside its allow-list (0.2.0 rule). The
// page's own origin is http://<whatever host the browser used>:<port>, which
// no static list can name (any LAN address, the host name, name.local), so
// an upgrade whose Origin is the page itself (SameOrigin: same host:port as
// the request, and that host is an IP literal or one of the box's names) is
// passed on without its Origin header, like a non-browser client. Any other
// Origin still meets the relay's check. The relay's token check applies to
// every connection either way.
func (h *Handler) WithRelay(relay http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			h.ServeHTTP(w, r)
			return
		}
		if SameOrigin(r, h.opts.Hosts) {
			r = r.Clone(r.Context())
			r.Header.Del("Origin")
		}
		relay.ServeHTTP(w, r)
	})
}
