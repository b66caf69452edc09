package auth

import "fmt"

// Scope is what a member token lets its holder do on the mesh.
type Scope uint8

const (
	// ScopeNone is the zero value: no rights.
	ScopeNone Scope = iota
	// ScopeHub is a full member: the config's token:/MESH_AUTH_TOKEN.
	ScopeHub
	// ScopeController is a paired phone: it may actuate.
	ScopeController
	// ScopeViewer is read-only: broadcasts and snapshots, no commands.
	ScopeViewer
)

// String is the scope's name in files, the API and logs.
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

// ParseScope reads a phone token's scope ("controller" or "viewer"; hub
// tokens are never minted or stored).
func ParseScope(s string) (Scope, error) {
	switch s {
	case "controller":
		return ScopeController, nil
	case "viewer":
		return ScopeViewer, nil
	}
	return ScopeNone, fmt.Errorf("unknown scope %q (want controller or viewer)", s)
}

// MarshalText writes the scope's name.
func (s Scope) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a phone scope.
func (s *Scope) UnmarshalText(b []byte) error {
	v, err := ParseScope(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
