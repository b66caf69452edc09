// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)) without cgo: one datagram per message on the unix socket
// named by NOTIFY_SOCKET. It sends READY=1 once the box is serving,
// STATUS= lines, STOPPING=1 on a deliberate stop, and WATCHDOG=1
// keep-alives at half the WATCHDOG_USEC interval while a health check
// passes, so a hung process is killed and restarted by systemd
// (WatchdogSec= in deploy/meshbox.service).
//
// The environment is read by the caller and passed in (FromEnv takes a
// getenv func). Without NOTIFY_SOCKET every method is a cheap no-op, so the
// same code runs under systemd, in a terminal and in tests.
//
// A Notifier is safe for concurrent use.
package sdnotify
