// Package httpserve is meshbox's HTTP server: the one port that serves the
// page, /metrics, /update and the WebSocket upgrades the relay takes over.
//
// Plain HTTP gets short timeouts (ReadHeaderTimeout, ReadTimeout,
// WriteTimeout; a handler that needs longer, such as POST /update, extends
// its own deadlines with http.ResponseController) and keep-alive
// connections close after IdleTimeout (at most 60 s). A connection taken
// over by a WebSocket (hijacked) leaves the server's accounting at once:
// gorilla/websocket clears the deadlines and the relay's own caps
// (max_connections, pending per IP) govern it.
//
// At most MaxConns plain-HTTP connections are open at once. One more
// evicts the connection that has been idle longest; when none is idle the
// newcomer is closed. So a flood of idle keep-alive connections holds at
// most MaxConns sockets, and a phone opening its WebSocket is never
// starved by idle page connections.
package httpserve
