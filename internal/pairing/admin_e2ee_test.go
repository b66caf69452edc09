package pairing

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/auth"
	"github.com/meshbox/meshbox/internal/e2ee"
)

// TestRevokeRotatesTheRoomKey: in an encrypted room revoking a phone token
// rotates the room key (the Revoked hook), and the next QR carries the new k.
func TestRevokeRotatesTheRoomKey(t *testing.T) {
	dir := t.TempDir()
	st := testStore(t, dir)
	kf, _, err := e2ee.OpenKeyFile(filepath.Join(dir, e2ee.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(NewWindow(time.Hour, false, nil), st, nil)
	a := &Admin{Manager: m, Store: st,
		Payload: func(tok, role string) Payload {
			return Payload{URL: "ws://192.168.1.5:8765", Channel: "home", Role: role, Token: tok, K: kf.Key().String()}
		},
		Revoked: func(auth.Token) error { _, err := kf.Rotate(); return err },
	}
	old := kf.Key()
	v := a.Do(Request{Op: "viewer", Label: "tablet"}, "test")
	if !v.OK || v.Pairing.K != old.String() {
		t.Fatalf("viewer: %+v", v)
	}
	if r := a.Do(Request{Op: "revoke", ID: v.Token.ID}, "test"); !r.OK || r.Warning != "" {
		t.Fatalf("revoke: %+v", r)
	}
	if kf.Key() == old {
		t.Fatal("the room key did not rotate with the revoked token")
	}
	if q := a.Do(Request{Op: "qr"}, "test"); !q.OK || q.Pairing.K != kf.Key().String() {
		t.Fatalf("qr after rotation: %+v", q)
	}
}
