package linuxhost

import "syscall"

func syscallEBUSY() error { return syscall.EBUSY }
