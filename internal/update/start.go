package update

import (
	"context"
	"fmt"
	"os"
	"slices"
	"syscall"
)

// Start is the whole start-up step of "meshbox serve": Boot, then exec the
// installed update when there is one (the process image is replaced and
// Start does not return), rolling back at once if that exec fails. argv is
// os.Args and environ os.Environ(). It returns the rollback performed, if
// any, when this binary should go on serving.
func (u *Updater) Start(ctx context.Context, argv, environ []string) (*Rollback, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	child := slices.Contains(environ, EnvChild+"=1")
	plan, err := u.Boot(ctx, self, child)
	if err != nil {
		return nil, err
	}
	if plan.Exec == "" {
		return plan.RolledBack, nil
	}
	if err := runnable(plan.Exec, os.Geteuid()); err != nil {
		u.logger().Warn("update: not running the installed update; start meshbox as the service user", "path", plan.Exec, "err", err)
		return plan.RolledBack, nil
	}
	args := append([]string{plan.Exec}, argv[1:]...)
	env := append(slices.Clone(environ), EnvChild+"=1")
	u.logger().Info("update: running installed binary", "path", plan.Exec)
	execErr := syscall.Exec(plan.Exec, args, env)
	rb, err := u.ExecFailed(execErr)
	if err != nil {
		return nil, fmt.Errorf("update: exec %s: %v; rollback: %w", plan.Exec, execErr, err)
	}
	return &rb, nil
}

// runnable refuses to let root (euid 0) exec an installed update that
// belongs to another user: the service user (or whoever owns the state
// directory) could have put anything there.
func runnable(path string, euid int) error {
	if euid != 0 {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
		return fmt.Errorf("running as root, and %s belongs to uid %d", path, sys.Uid)
	}
	return nil
}
