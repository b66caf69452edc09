// Package update replaces the meshbox binary over the LAN and rolls back a
// replacement that does not come up healthy.
//
// The factory binary flashed to the card stays at /usr/local/bin/meshbox
// (read-only under the unit's ProtectSystem=strict). Updates live in the
// state directory, writable by the service:
//
//	/var/lib/meshbox/bin/meshbox       the installed update (run instead of the factory one)
//	/var/lib/meshbox/bin/meshbox.prev  the update before it (rollback target)
//	/var/lib/meshbox/bin/meshbox.new   a download being written and verified
//	/var/lib/meshbox/update-pending.json   set by Install, cleared by Confirm
//	/var/lib/meshbox/update-rollback.json  the last rollback, for the page and logs
//
// Install writes meshbox.new, fsyncs it, checks its SHA-256 (optional) and
// runs "meshbox.new version" with a timeout, then hard-links the current
// binary to meshbox.prev and renames meshbox.new over meshbox: at every
// instant bin/meshbox is either the old or the new binary, never a partial
// one. The caller then exits with ExitCodeRestart (non-zero, so systemd's
// Restart=on-failure starts it again).
//
// Boot runs first thing when meshbox serves. If an update is pending and
// already had its one start (Attempts >= MaxAttempts), it rolls back:
// meshbox.prev goes back to meshbox (or, after the first update, bin/meshbox
// is removed and the factory binary runs). Otherwise it counts the attempt
// and tells the caller to exec bin/meshbox. The new process calls Confirm,
// which clears the pending marker once its health check passes; if the
// check never passes, Confirm returns ErrUnhealthy and the process exits
// non-zero, so the next start rolls back. A binary that crashes or hangs
// (killed by the systemd watchdog) never confirms and is rolled back the
// same way.
//
// An Updater is safe for concurrent use; concurrent installs are refused
// with ErrBusy (an advisory lock on bin/.lock).
package update
