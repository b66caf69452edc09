package hil

import (
	"os/exec"
	"syscall"
)

// setPdeathsig has the kernel kill QEMU when the test process dies.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
