package update

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// EnvChild is set in the environment of the binary Boot asks the caller to
// exec, so its own Boot neither counts a second attempt nor execs again.
const EnvChild = "MESHBOX_UPDATE_CHILD"

// BootPlan is Boot's decision.
type BootPlan struct {
	// Exec, when set, is the installed update the caller should exec
	// (syscall.Exec(Exec, args, append(env, EnvChild+"=1"))).
	Exec string
	// RolledBack is set when Boot just rolled a failed update back.
	RolledBack *Rollback
}

// Boot runs when meshbox starts serving, before anything else. self is the
// running executable (os.Executable), child whether EnvChild is set. It
// rolls back a pending update that already had MaxAttempts starts, counts
// this start otherwise, and says whether to exec the installed update.
func (u *Updater) Boot(ctx context.Context, self string, child bool) (BootPlan, error) {
	l := u.Layout
	var plan BootPlan
	if child {
		return plan, nil // the parent already decided and counted
	}
	if exists(l.Current()) || exists(l.PendingFile()) {
		d, derr := openDirs(l)
		if derr != nil {
			// Never run (or roll back inside) a directory others can write.
			u.logger().Error("update: not running the installed update", "err", derr)
			return plan, nil
		}
		d.Close()
	}
	var p Pending
	err := readJSON(l.PendingFile(), &p)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		u.logger().Warn("update: discarding an unreadable pending marker", "err", err)
		_ = os.Remove(l.PendingFile())
	default:
		sum, herr := fileSHA256(l.Current())
		switch {
		case herr != nil || sum != p.SHA256:
			// Install stopped between marking and renaming: nothing changed.
			u.logger().Warn("update: discarding a stale pending marker", "version", p.Version)
			_ = os.Remove(l.PendingFile())
		case p.Attempts >= u.maxAttempts():
			rb, rerr := u.rollback(p, fmt.Sprintf("did not report healthy after %d start(s)", p.Attempts))
			if rerr != nil {
				return plan, rerr
			}
			plan.RolledBack = &rb
		default:
			p.Attempts++
			if werr := u.writeRecord(l.PendingFile(), p); werr != nil {
				return plan, fmt.Errorf("update: count start: %w", werr)
			}
			u.logger().Info("update: starting new version", "version", p.Version, "attempt", p.Attempts)
		}
	}
	if !exists(l.Current()) {
		return plan, nil
	}
	if same(self, l.Current()) {
		return plan, nil
	}
	plan.Exec = l.Current()
	return plan, nil
}

// ExecFailed is called when exec'ing BootPlan.Exec failed: the update is
// rolled back at once and the caller continues with its own binary.
func (u *Updater) ExecFailed(execErr error) (Rollback, error) {
	var p Pending
	if err := readJSON(u.Layout.PendingFile(), &p); err != nil {
		// Not a fresh update: drop the broken binary, keep what else we have.
		p = Pending{Version: "unknown", HasPrev: exists(u.Layout.Prev())}
	}
	return u.rollback(p, "exec failed: "+execErr.Error())
}

// rollback restores meshbox.prev (or removes the update so the factory
// binary runs), records why and clears the pending marker.
func (u *Updater) rollback(p Pending, reason string) (Rollback, error) {
	d, err := openDirs(u.Layout)
	if err != nil {
		return Rollback{}, fmt.Errorf("update: roll back: %w", err)
	}
	defer d.Close()
	return u.rollbackIn(d, p, reason)
}

func (u *Updater) rollbackIn(d *dirs, p Pending, reason string) (Rollback, error) {
	if _, err := d.bin.Lstat("meshbox.prev"); p.HasPrev && err == nil {
		if err := d.bin.Rename("meshbox.prev", "meshbox"); err != nil {
			return Rollback{}, fmt.Errorf("update: roll back: %w", err)
		}
	} else if err := d.bin.Remove("meshbox"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Rollback{}, fmt.Errorf("update: roll back: %w", err)
	}
	if err := syncRoot(d.bin); err != nil {
		return Rollback{}, err
	}
	rb := Rollback{Version: p.Version, Reason: reason, At: u.now().UTC()}
	if err := writeJSONIn(d.state, "update-rollback.json", rb, d.uid, d.gid); err != nil {
		u.logger().Warn("update: cannot record rollback", "err", err)
	}
	if err := d.state.Remove("update-pending.json"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return rb, fmt.Errorf("update: %w", err)
	}
	u.logger().Error("update rolled back", "version", p.Version, "reason", reason)
	return rb, nil
}

// writeRecord writes a JSON record in the state directory, owned like it.
func (u *Updater) writeRecord(path string, v any) error {
	d, err := openDirs(u.Layout)
	if err != nil {
		return err
	}
	defer d.Close()
	return writeJSONIn(d.state, filepath.Base(path), v, d.uid, d.gid)
}

func same(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(sa, sb)
}

// PendingUpdate returns the pending marker, if any.
func (u *Updater) PendingUpdate() (Pending, bool) {
	var p Pending
	if err := readJSON(u.Layout.PendingFile(), &p); err != nil {
		return Pending{}, false
	}
	return p, true
}

// LastRollback returns the last rollback record, if any.
func (u *Updater) LastRollback() (Rollback, bool) {
	var rb Rollback
	if err := readJSON(u.Layout.RollbackFile(), &rb); err != nil {
		return Rollback{}, false
	}
	return rb, true
}

// Confirm marks a pending update healthy. It does nothing (returns nil at
// once) unless self is the pending binary. Otherwise it waits settle (the
// box must stay up that long), then calls check until it passes or timeout
// (counted from the call) runs out. On success the pending marker is
// removed and the update is final; on timeout it returns ErrUnhealthy and
// the caller should exit non-zero so that Boot rolls back on the restart.
func (u *Updater) Confirm(ctx context.Context, self string, settle, timeout time.Duration, check func(context.Context) error) error {
	p, ok := u.PendingUpdate()
	if !ok {
		return nil
	}
	if sum, err := fileSHA256(self); err != nil || sum != p.SHA256 {
		return nil
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	wait := time.NewTimer(settle)
	defer wait.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-deadline.C:
		return fmt.Errorf("%w: version %s did not stay up %s", ErrUnhealthy, p.Version, settle)
	case <-wait.C:
	}
	var lastErr error
	retry := time.NewTicker(settle/4 + 50*time.Millisecond)
	defer retry.Stop()
	for {
		if lastErr = check(ctx); lastErr == nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%w: version %s: %v", ErrUnhealthy, p.Version, lastErr)
		case <-retry.C:
		}
	}
	// Re-read: only clear the marker for this very install.
	if cur, ok := u.PendingUpdate(); ok && cur.SHA256 == p.SHA256 {
		if err := os.Remove(u.Layout.PendingFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("update: confirm: %w", err)
		}
		if err := syncDir(u.Layout.StateDir); err != nil {
			return err
		}
		u.logger().Info("update confirmed healthy", "version", p.Version)
	}
	return nil
}
