//go:build linux

package automation

import "golang.org/x/sys/unix"

// SystemClockValid reports whether the kernel says the system clock is
// synchronised (NTP via systemd-timesyncd, chrony or ntpd: adjtimex has
// STA_UNSYNC clear and the state is not TIME_ERROR).
func SystemClockValid() bool {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return false
	}
	return state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}
