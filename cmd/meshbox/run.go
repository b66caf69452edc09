package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/meshbox/meshbox/internal/update"
)

// Env is the process environment run works in, injected so tests can run
// meshbox in-process.
type Env struct {
	Args   []string
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// subcommand runs one "meshbox NAME ..." command with the arguments after NAME.
type subcommand struct {
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// subcommands lists every "meshbox NAME" command. Without a known NAME,
// meshbox serves (relay + bridge).
func subcommands() map[string]subcommand {
	return map[string]subcommand{
		"serve":       {"run the relay and the bridge (the default)", serveCmd},
		"send":        {"send one frame to a relay: send URL TYPE [JSON]", sendCmd},
		"request":     {"send a request and print the reply: request URL TYPE [JSON]", requestCmd},
		"listen":      {"print frames from a relay as JSON lines: listen URL [TYPE...]", listenCmd},
		"set":         {"switch a target and wait for the box's ack: set URL TARGET VALUE", setCmd},
		"sim":         {"drive the simulated board: sim URL set FIELD|INPUT VALUE|null, sim URL fault SENSOR true|false", simCmd},
		"nodes":       {"print a relay's roster: nodes URL", nodesCmd},
		"check":       {"validate a config and print the resolved wiring", checkCmd},
		"pins":        {"print the 40-pin header of the detected or named board", pinsCmd},
		"config-txt":  {"print the config.txt block (buses, power-on output levels) flash.sh writes", configTxtCmd},
		"qr":          {"print the QR of the open pairing window again (-png FILE writes an image)", qrCmd},
		"pair":        {"open the pairing window of the running box and print its QR (-viewer: a read-only token)", pairCmd},
		"tokens":      {"list the phone tokens of the running box (tokens revoke ID)", tokensCmd},
		"owner-token": {"print the owner credential (the owner's page, meshbox update)", ownerTokenCmd},
		"update":      {"install a new meshbox binary: update URL|FILE", updateCmd},
		"keygen":      {"make an update signing key pair", keygenCmd},
		"sign":        {"sign binaries for boxes with an update key: sign BINARY...", signCmd},
		"version":     {"print the version", versionCmd},
	}
}

func run(ctx context.Context, env *Env) error {
	args := env.Args
	cmds := subcommands()
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		return versionCmd(ctx, env, nil)
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if args[0] == "help" {
			usage(env.Stdout, cmds)
			return nil
		}
		c, ok := cmds[args[0]]
		if !ok {
			return usageError(fmt.Sprintf("unknown command %q (meshbox help lists the commands)", args[0]))
		}
		return c.run(ctx, env, args[1:])
	}
	return serveCmd(ctx, env, args)
}

// usage is meshbox's help: the serve flags, the commands and the
// environment (meshbox help, meshbox -h).
func usage(w io.Writer, cmds map[string]subcommand) {
	fmt.Fprintln(w, "usage: meshbox [serve] [flags]            run the relay and the hardware bridge")
	fmt.Fprintln(w, "       meshbox COMMAND [flags] [args]     (meshbox COMMAND -h for its flags)")
	fmt.Fprintln(w, "\nserve flags:")
	var o serveOptions
	fs := serveFlagSet(&o)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, cmds[n].summary)
	}
	fmt.Fprint(w, `
environment:
  MESH_AUTH_TOKEN    relay token (serve: wins over the config's; client commands: --token default)
  MESH_CHANNEL       channel of send/request/listen/set/nodes (default home, the bridge's channel)
  MESHBOX_STATE_DIR  state directory: tokens, owner credential, restore states (default the config's state_dir, /var/lib/meshbox)
  MESHBOX_LOG_LEVEL  debug, info (default), warn or error
  MESHBOX_OWNER_TOKEN owner credential of meshbox update -box (sudo meshbox owner-token on the box)
  MESHBOX_UPDATE_KEY update public key (default /etc/meshbox/update.pub; when it exists only signed updates install)
  MESHBOX_SIGNING_KEY private key of keygen and sign (default ~/.config/meshbox/update.key)
  relay limits (override the config's relay: section):
    MESH_RATE_LIMIT, MESH_MAX_SIZE, MESH_MAX_CONNECTIONS, MESH_MAX_PENDING_PER_IP,
    MESH_TRUSTED_PROXIES, MESH_ALLOWED_ORIGINS, MESH_AUTH_TIMEOUT, MESH_ROUTE_TIMEOUT,
    MESH_SEND_TIMEOUT, MESH_PING_INTERVAL, MESH_PING_TIMEOUT, MESH_MAX_OUTSTANDING_ROUTES,
    MESH_QUEUE_SIZE, MESH_QUEUE_BYTES, MESH_LENIENT_NAMES, MESHBOX_PIPE_RATE_LIMIT
`)
}

// usageError is a bad command line (exit code 2).
type usageError string

func (e usageError) Error() string { return string(e) }

// exitCode maps an error from run to a process exit code: 2 for a bad command
// line, update.ExitCodeRestart (3) after an update was installed, 128+N
// after signal N among SIGHUP, SIGQUIT and SIGABRT (main.go), 1 for any
// other failure. systemd (Restart=on-failure) restarts on every non-zero
// code; a deliberate stop (SIGTERM, SIGINT) returns nil and exits 0. The
// outputs reach their exit state either way (internal/box).
func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	if errors.Is(err, update.ErrRestart) {
		return update.ExitCodeRestart
	}
	var se signalError
	if errors.As(err, &se) {
		return 128 + int(se.sig)
	}
	return 1
}

// version is stamped at build time: -ldflags "-X main.version=...".
var version = "dev"

func versionCmd(_ context.Context, env *Env, _ []string) error {
	fmt.Fprintln(env.Stdout, "meshbox", version)
	return nil
}
