// Package atomicfile replaces state files atomically: a reader (or a boot
// after a power cut) sees the old content or the new one, never a torn
// file.
//
// WriteFile writes a temporary file with a unique name in the target's
// directory, syncs it, renames it over the target and syncs the directory.
// With a private mode (no group or other bits, e.g. 0600) the file has that
// mode from its creation and a missing directory is created 0700.
package atomicfile
