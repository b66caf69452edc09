// Package page serves the box's own web page on the relay's port: the page
// itself (embedded HTML, CSS and JavaScript, no CDN), the pairing QR while
// pairing is open, /layout.json, /healthz and /metrics.
//
// # Token handling
//
// The page speaks the MeshSocket protocol to the relay like a phone does, so
// it needs the shared key. The HTML and scripts carry no secret. The script
// asks GET /api/session, which includes the token only while the pairing
// window is open (the same moment the page shows the QR, which carries the
// token anyway) or when the request itself proves knowledge of the token
// (Authorization: Bearer, or ?token=). Outside the window the page asks for
// the token once (a field; `meshbox qr` prints it on the console) and keeps
// it in the browser's localStorage. A ?token= in the page URL is moved to
// localStorage and removed from the address bar.
//
// Every response that can carry the token is Cache-Control: no-store, and
// the token is only handed to requests whose Host is an IP literal or one of
// the box's own names (HostAllowed), so a DNS-rebinding page cannot fetch it.
// The same rule decides which browser origins may open the page's
// WebSocket (SameOrigin).
package page
