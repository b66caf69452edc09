// Package admin implements meshbox's administration commands: check, pins
// and config-txt (a config and the board it runs on), update, keygen and
// sign (installing and signing binaries), and the console commands pair, qr,
// tokens and owner-token (the running box's control socket and state
// directory). cmd/meshbox parses nothing for them: each command takes its
// arguments and a cli.IO, prints its output and returns a *cli.UsageError
// for a bad command line (exit code 2), so behaviour is the same whether the
// command runs as a process or in a test.
package admin
