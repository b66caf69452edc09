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
// Install stages meshbox.new with O_CREAT|O_EXCL|O_NOFOLLOW through a
// descriptor of the bin directory (os.Root: no path a writer of the state
// directory could swap for a symbolic link is followed), after checking
// that the state and bin directories are real directories only the service
// (or root) can write. The staged file is fsynced and reopened read-only
// through /proc/self/fd, and every check reads that descriptor: SHA-256
// (optional), ELF type and architecture, and, on a box with an update key
// (KeyFile, see sign.go), an Ed25519ph signature. Only then does anything
// uploaded run: "version" is exec'd through the same descriptor (as the
// service user when installing as root). Finally the current binary is
// hard-linked to meshbox.prev and meshbox.new renamed over meshbox, and
// meshbox must then be the very inode that was checked (else the install
// is rolled back): at every instant bin/meshbox is either the old or the
// new binary, never a partial one. The caller then exits with
// ExitCodeRestart (non-zero, so systemd's Restart=on-failure starts it
// again). The box never downloads a binary itself.
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
//
// Client is the sending side ("meshbox update -box"): it fetches a binary
// and its signature from a file or URL and pushes them to POST /update.
package update
