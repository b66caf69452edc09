package relay

import (
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/wire"
)

// Scope is what a member's credential lets it do on the mesh.
type Scope uint8

// Credential scopes. The zero Scope is no credential.
const (
	// ScopeHub is full mesh rights: the configured token (Config.AuthToken),
	// and every member of an open relay. Exactly the reference relay's
	// single-key meaning.
	ScopeHub Scope = iota + 1
	// ScopeController (a phone that actuates) may broadcast and route as its
	// identify flags say, but never monitors (no roster, get_nodes empty),
	// never routes across channels and broadcasts to its channel only.
	ScopeController
	// ScopeViewer (read-only) gets broadcasts and snapshots and may send
	// control_sync_request and other broadcasts, but its commands are not
	// forwarded: a broadcast_request whose payload msg_type is cmd, set or
	// command is answered {"error":"read-only","status":"failed"} and, when
	// it carries "_cmd", with the command_ack ok:false a hub would send; it
	// cannot route at all. It has the controller's limits too.
	ScopeViewer
)

func (s Scope) String() string {
	switch s {
	case ScopeHub:
		return "hub"
	case ScopeController:
		return "controller"
	case ScopeViewer:
		return "viewer"
	}
	return "none"
}

// Credentials maps member tokens other than Config.AuthToken to a scope
// (the token store). ok is false for an unknown or revoked token.
type Credentials interface {
	Lookup(token string) (Scope, bool)
}

// Namer is optionally implemented by Credentials: after a member was
// admitted through Credentials, Named is told the name it identified with
// (the token store labels a freshly paired phone's token with it). It runs
// on the member's read goroutine under no relay lock.
type Namer interface {
	Named(token, name string)
}

// Member describes one identified member, for listing connected phones.
type Member struct {
	ID, Name, Channel, Role string
	Scope                   Scope
	Remote                  string // client IP, or the pipe's address
	InProcess               bool   // joined through Pipe
	Since                   time.Time
}

// Members lists the identified members in join order.
func (s *Server) Members() []Member {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Member, 0, len(s.all))
	for _, c := range s.all {
		out = append(out, Member{ID: c.id, Name: c.ident.name, Channel: c.ident.channel, Role: c.ident.role,
			Scope: c.ident.scope, Remote: c.ip, InProcess: c.pipe, Since: c.born})
	}
	return out
}

// Revalidate looks up again the credential of every member admitted through
// Config.Credentials and closes (1008 "unauthorized") those whose token is
// no longer accepted or whose scope changed: call it after revoking a token.
// It returns how many members it closed.
func (s *Server) Revalidate() int {
	creds := s.cfg.Credentials
	if creds == nil {
		return 0
	}
	s.mu.RLock()
	var check []*conn
	for _, c := range s.all {
		if c.ident.viaCreds {
			check = append(check, c)
		}
	}
	s.mu.RUnlock()
	n := 0
	for _, c := range check { // Lookup runs under no relay lock
		if sc, ok := creds.Lookup(c.ident.token); !ok || sc != c.ident.scope {
			c.logger().Info("relay: credential revoked, closing")
			c.requestClose(websocket.ClosePolicyViolation, reasonUnauthorized)
			n++
		}
	}
	return n
}

// WeakToken reports whether the configured token is shorter than
// MinTokenLength characters (also logged as a warning by New).
func (s *Server) WeakToken() bool { return s.weak }

// Warnings lists configuration problems found by New, for the owner's page.
func (s *Server) Warnings() []string { return append([]string(nil), s.warnings...) }

// commandShaped reports whether a broadcast payload is a command the bridge
// would execute (msg_type cmd, set or command), and its "_cmd" id.
func commandShaped(payload []byte) (cmdID string, ok bool) {
	if len(payload) == 0 || payload[0] != '{' {
		return "", false
	}
	var m struct {
		MsgType json.RawMessage `json:"msg_type"`
		Cmd     json.RawMessage `json:"_cmd"`
	}
	if json.Unmarshal(payload, &m) != nil {
		return "", false
	}
	switch mt, _ := jsonString(m.MsgType); mt {
	case "cmd", "set", "command":
		id, _ := jsonString(m.Cmd)
		return id, true
	}
	return "", false
}

// payloadCmdID is the "_cmd" of an object payload ("" when none).
func payloadCmdID(payload []byte) string {
	if len(payload) == 0 || payload[0] != '{' {
		return ""
	}
	var m struct {
		Cmd json.RawMessage `json:"_cmd"`
	}
	if json.Unmarshal(payload, &m) != nil {
		return ""
	}
	id, _ := jsonString(m.Cmd)
	return id
}

const errReadOnly = `{"error":"read-only","status":"failed"}`

// readOnlyAck answers a viewer's command that carried _cmd with the
// broadcast a hub would send after refusing it (bridge command_ack shape):
// {"msg_type":"command_ack","cmd_id":…,"to":<viewer>,"ok":false,"error":"read-only"}.
// Only the viewer gets it.
func (c *conn) readOnlyAck(cmdID string) {
	if cmdID == "" {
		return
	}
	p := append([]byte(`{"msg_type":"command_ack","cmd_id":`), nil...)
	p = wire.AppendString(p, cmdID)
	p = append(p, `,"to":`...)
	p = wire.AppendString(p, c.ident.name)
	p = append(p, `,"ok":false,"error":"read-only"}`...)
	c.enqueue(c.s.frame(nil, "broadcast", p, ""))
}
