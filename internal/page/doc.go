// Package page serves the box's own web page on the relay's port: the page
// itself (embedded HTML, CSS and JavaScript, no CDN), the pairing QR while
// pairing is open, /layout.json, /healthz and /metrics.
//
// # Token handling
//
// The page speaks the MeshSocket protocol to the relay like a phone does, so
// it needs a member token. The HTML and scripts carry no secret, and the
// page never sees the hub token or the owner credential.
//
// While the pairing window is open (first start, the pairing button, `sudo
// meshbox pair`, or the owner's page), a request addressed to an IP literal
// or one of the box's own names (HostAllowed: a DNS-rebinding page gets
// nothing) gets: from GET /api/session a controller token minted for that
// page ("token"); from GET /pairing.png a QR with the pairing controller
// token (a new one as soon as a phone used it, so every phone has its own,
// revocable token); from GET /layout.json the same token in its connection
// block. Tokens nobody used are dropped when the window closes.
//
// While it is closed, a request without a valid member token (Authorization:
// Bearer, or ?token=) gets 401 from /api/session (only the box's name and
// how to pair) and /layout.json (no wiring), and 403 from /pairing.png. A
// member token gets its session and the layout with its own token. /metrics
// does not say whether pairing is open. An open relay (no token) shows
// everything to everyone. The page keeps its token in localStorage; outside
// the window it asks for one (a field). A ?token= in the page URL is moved
// to localStorage and removed from the address bar.
//
// # Owner section
//
// POST /api/owner takes one pairing.Request (status, pair, close, viewer,
// tokens, revoke) with the owner credential as Authorization: Bearer
// (header only). A member token gets 403, anything else 401; after 20
// refusals in a minute every owner request gets 429 for the rest of it. The
// page's owner section keeps the credential in sessionStorage (this tab
// only) and never in the page session.
//
// Every response that can carry a token is Cache-Control: no-store.
//
// # Controls without state
//
// Until the page is connected and has the box's state (a control_snapshot
// or a state broadcast), a switch or slider is drawn as unknown: greyed,
// no position, "–", disabled. Every control is disabled while the page is
// offline (no token, or the socket closed), and going offline forgets the
// values, since outputs may change meanwhile.
package page
