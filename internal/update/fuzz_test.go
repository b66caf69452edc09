package update

import (
	"context"
	"os"
	"testing"
)

// FuzzBootMarker: whatever is in the pending marker (a torn write, a
// hand-edited file), Boot must not panic, must not remove the installed
// binary unless it rolls back, and must leave no unreadable marker.
func FuzzBootMarker(f *testing.F) {
	f.Add([]byte(`{"version":"2","sha256":"00","attempts":0}`))
	f.Add([]byte(`{"version":"2","sha256":"","attempts":99,"has_prev":true}`))
	f.Add([]byte(`{"attempts":-1}`))
	// sha256("binary"): the marker matches the installed file.
	f.Add([]byte(`{"version":"2","sha256":"9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd","attempts":1}`))
	f.Add([]byte(`{"version":"2","sha256":"9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd","attempts":0}`))
	f.Add([]byte(`{`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, marker []byte) {
		u := &Updater{Layout: Layout{StateDir: t.TempDir()}}
		if err := mkBinDir(t, u.Layout); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(u.Layout.Current(), []byte("binary"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(u.Layout.PendingFile(), marker, 0o640); err != nil {
			t.Fatal(err)
		}
		plan, err := u.Boot(context.Background(), "/nonexistent/self", false)
		if err != nil {
			t.Fatalf("Boot: %v", err)
		}
		if plan.RolledBack == nil && plan.Exec != u.Layout.Current() {
			t.Fatalf("no rollback but no exec either: %+v", plan)
		}
		if exists(u.Layout.PendingFile()) {
			var p Pending
			if err := readJSON(u.Layout.PendingFile(), &p); err != nil {
				t.Fatalf("unreadable marker kept: %v", err)
			}
		}
	})
}
