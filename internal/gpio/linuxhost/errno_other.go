//go:build !linux

package linuxhost

import "errors"

// syscallEBUSY never matches off Linux.
func syscallEBUSY() error { return errors.New("EBUSY") }
