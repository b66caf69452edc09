package auth

import "github.com/meshbox/meshbox/internal/relay"

// Relay returns the store as the relay's Credentials (relay.Config): the hub
// token is ScopeHub, phone tokens their scope, anything else refused. It is
// also a relay.Namer: a freshly paired phone's token takes the name the
// phone identified with as its label.
func (s *Store) Relay() relay.Credentials { return relayCreds{s} }

type relayCreds struct{ s *Store }

func (c relayCreds) Lookup(token string) (relay.Scope, bool) {
	sc, ok := c.s.Lookup(token)
	if !ok {
		return 0, false
	}
	switch sc {
	case ScopeHub:
		return relay.ScopeHub, true
	case ScopeController:
		return relay.ScopeController, true
	case ScopeViewer:
		return relay.ScopeViewer, true
	}
	return 0, false
}

func (c relayCreds) Named(token, name string) { c.s.Named(token, name) }
