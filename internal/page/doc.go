// Package page serves the box's own web page on the relay's port: the page
// itself (embedded HTML, CSS and JavaScript, no CDN), the pairing QR while
// pairing is open, /layout.json, /healthz and /metrics.
//
// # Token handling
//
// The page speaks the MeshSocket protocol to the relay like a phone does, so
// it needs the shared key. The HTML and scripts carry no secret. Three
// endpoints can hand out the token, all under the same rule: GET
// /api/session ("token"), GET /layout.json (connection.token) and GET
// /pairing.png (inside the QR). While the pairing window is open, anyone who
// can reach the box's port and addresses it by an IP literal or one of its
// own names gets the token from any of them: the same exposure as the QR on
// the page, which carries the token anyway. After the window closes, and
// for a request with an unknown Host at any time, /api/session has no
// token, /layout.json has "token": null and /pairing.png answers 403,
// unless the request itself proves knowledge of the token (Authorization:
// Bearer, or ?token=). pairing.always keeps the window, and so this
// exposure, open for good. An open relay (no token) has nothing to hide and
// always shows its QR. Outside the window the page asks for the token once
// (a field; `meshbox qr` prints it on the console) and keeps it in the
// browser's localStorage. A ?token= in the page URL is moved to
// localStorage and removed from the address bar.
//
// Every response that can carry the token is Cache-Control: no-store, and
// the token is only handed to requests whose Host is an IP literal or one of
// the box's own names (HostAllowed), so a DNS-rebinding page cannot fetch it.
// The same rule decides which browser origins may open the page's
// WebSocket (SameOrigin).
//
// # Controls without state
//
// Until the page is connected and has the box's state (a control_snapshot
// or a state broadcast), a switch or slider is drawn as unknown: greyed,
// no position, "–", disabled. Every control is disabled while the page is
// offline (no token, or the socket closed), and going offline forgets the
// values, since outputs may change meanwhile.
package page
