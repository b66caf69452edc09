package relay

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Close reasons sent with code 1008 (spec §9).
const (
	reasonUnauthorized   = "unauthorized"
	reasonInvalidIdent   = "invalid name or channel"
	reasonReidentify     = "identify already processed"
	reasonOrigin         = "origin not allowed"
	reasonRateLimit      = "Rate limit exceeded"
	reasonTooManyPending = "Too many pending connections"
	reasonTooManyConns   = "Too many connections"
	reasonNameReserved   = "name in use by the box"
	reasonNameTaken      = "name in use by a member with more rights"
	reasonInvalidUTF8    = "invalid UTF-8"
)

// identity is the sanitised result of an identify payload.
type identity struct {
	name, channel, role string
	canBroadcast        bool
	canRoute            bool
	canMonitor          bool
	canCross            bool
	scopeGlobal         bool
	scope               Scope // what the credential allows
	viaCreds            bool  // admitted through Config.Credentials
	token               string
}

// policy is what parseIdentify needs from the configuration. Immutable.
type policy struct {
	tokenSum  [32]byte // sha256 of the shared key
	hasToken  bool     // a shared key is configured
	creds     Credentials
	open      bool // no shared key and no credentials
	lenient   bool
	broadcast map[string]bool
	route     map[string]bool
	monitor   map[string]bool
}

func newPolicy(cfg *Config) *policy {
	p := &policy{
		hasToken:  cfg.AuthToken != "",
		creds:     cfg.Credentials,
		open:      cfg.AuthToken == "" && cfg.Credentials == nil,
		lenient:   cfg.LenientNames,
		broadcast: set(cfg.BroadcastRoles),
		route:     set(cfg.RouteRoles),
		monitor:   set(cfg.MonitorRoles),
	}
	p.tokenSum = sha256.Sum256([]byte(cfg.AuthToken))
	return p
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// tokenOK reports whether tok is the shared key (always true on an open
// relay).
func (p *policy) tokenOK(tok string) bool {
	sc, ok, _ := p.scopeOf(tok)
	return ok && sc == ScopeHub
}

// scopeOf resolves a token: the shared key (compared in constant time, both
// sides hashed so the key's length does not leak either) is a hub, then
// Credentials is asked. viaCreds tells which one admitted it.
func (p *policy) scopeOf(tok string) (sc Scope, ok, viaCreds bool) {
	if p.open {
		return ScopeHub, true, false
	}
	if tok == "" {
		return 0, false, false
	}
	if p.hasToken {
		sum := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(sum[:], p.tokenSum[:]) == 1 {
			return ScopeHub, true, false
		}
	}
	if p.creds != nil {
		if sc, ok := p.creds.Lookup(tok); ok && sc >= ScopeHub && sc <= ScopeViewer {
			return sc, true, true
		}
	}
	return 0, false, false
}

// parseIdentify validates an identify payload (spec §4.2–§4.4, §5). It
// returns the close reason (code 1008) when the client must be rejected.
// queryToken is the ?token= of the upgrade URL; placeholder names an
// anonymous client. A non-object payload reads as {}.
func parseIdentify(payload []byte, queryToken string, p *policy, placeholder func() string) (identity, string) {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		m = nil
	}
	tok := ""
	for _, k := range []string{"token", "auth_token"} {
		if s, ok := jsonString(m[k]); ok && s != "" {
			tok = s
			break
		}
	}
	if tok == "" {
		tok = queryToken
	}
	scope, ok, viaCreds := p.scopeOf(tok)
	if !ok {
		return identity{}, reasonUnauthorized
	}

	id := identity{scope: scope, viaCreds: viaCreds}
	if viaCreds {
		id.token = tok // kept for Revalidate; never logged
	}
	if raw, present := m["name"]; present {
		s, ok := jsonString(raw)
		if !ok || !(validIdent(s) || (p.lenient && lenientName(s))) {
			return identity{}, reasonInvalidIdent
		}
		id.name = s
	} else {
		id.name = placeholder()
	}
	id.channel = "default"
	if raw, present := m["channel"]; present && !isNull(raw) {
		s, ok := jsonString(raw)
		if !ok {
			return identity{}, reasonInvalidIdent
		}
		if s != "" {
			if !validIdent(s) {
				return identity{}, reasonInvalidIdent
			}
			id.channel = s
		}
	}
	id.role = "node"
	if s, ok := jsonString(m["role"]); ok && s != "" && utf8.RuneCountInString(s) <= 64 {
		id.role = s
	}
	id.canBroadcast = parseBool(m["can_broadcast"], p.broadcast[id.role])
	id.canRoute = parseBool(m["can_route"], p.route[id.role])
	id.canMonitor = parseBool(m["can_monitor"], p.monitor[id.role])
	id.canCross = parseBool(m["can_cross_channel_route"], false)
	id.scopeGlobal = id.canMonitor
	if s, ok := jsonString(m["broadcast_scope"]); ok {
		switch s {
		case "global":
			id.scopeGlobal = true
		case "channel":
			id.scopeGlobal = false
		}
	}
	if scope != ScopeHub { // phones: no monitor or hub-only rights
		id.canMonitor, id.canCross, id.scopeGlobal = false, false, false
	}
	if scope == ScopeViewer {
		id.canRoute = false
	}
	return id, ""
}

// parseBool is the reference _parse_bool: a JSON bool as is; a string is true
// iff it is one of 1/true/yes/on (trimmed, any case); anything else (number,
// null, missing) gives the default.
func parseBool(raw json.RawMessage, def bool) bool {
	raw = bytes.TrimSpace(raw)
	switch {
	case bytes.Equal(raw, []byte("true")):
		return true
	case bytes.Equal(raw, []byte("false")):
		return false
	}
	if s, ok := jsonString(raw); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "true", "yes", "on":
			return true
		}
		return false
	}
	return def
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// jsonString decodes raw when it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// validIdent is the §4.4 grammar:
//
//	^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$  or  ^[0-9]{1,32}\.[A-Za-z0-9][A-Za-z0-9_-]{0,63}$
func validIdent(s string) bool {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if i < 1 || i > 32 {
			return false
		}
		for j := 0; j < i; j++ {
			if s[j] < '0' || s[j] > '9' {
				return false
			}
		}
		s = s[i+1:]
	}
	if len(s) < 1 || len(s) > 64 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// lenientName accepts legacy display names ("Living Room iPad"): 1–64
// printable characters, not starting or ending with a space.
func lenientName(s string) bool {
	n := utf8.RuneCountInString(s)
	if n < 1 || n > 64 || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
