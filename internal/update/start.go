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
	if st, err := os.Stat(plan.Exec); err == nil && os.Geteuid() == 0 {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
			// The service user installed it: root must not run it.
			u.logger().Warn("update: running as root: not running the installed update (it belongs to the service user); start meshbox as that user",
				"path", plan.Exec, "uid", sys.Uid)
			return plan.RolledBack, nil
		}
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
