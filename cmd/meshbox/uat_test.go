package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
)

// TestHelp: -h, --help and help print the serve flags, the commands and the
// environment to stdout, and exit 0.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"serve", "-h"}} {
		out, stderr, err := runCmd(t, args...)
		if err != nil {
			t.Fatalf("meshbox %v = %v (exit %d)", args, err, exitCode(err))
		}
		for _, want := range []string{
			"-listen address", "-config file", "-sim", "-open",
			"commands:", "listen ", "check ", "update ",
			"MESH_AUTH_TOKEN", "MESH_CHANNEL", "MESHBOX_STATE_DIR", "MESHBOX_LOG_LEVEL",
			"MESH_RATE_LIMIT", "MESH_ALLOWED_ORIGINS", "MESH_PING_INTERVAL",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("meshbox %v lacks %q:\n%s", args, want, out)
			}
		}
		if stderr != "" {
			t.Errorf("meshbox %v wrote to stderr: %q", args, stderr)
		}
	}
}

// TestBadFlagOnce: a bad flag is reported once — in the returned error that
// main prints — with nothing on stderr before it, and exit code 2.
func TestBadFlagOnce(t *testing.T) {
	for _, args := range [][]string{
		{"-bogus"}, {"serve", "-bogus"}, {"check", "-bogus"}, {"pins", "-bogus"},
		{"update", "-bogus"}, {"listen", "ws://x", "--bogus"}, {"nodes", "-bogus", "ws://x"},
	} {
		_, stderr, err := runCmd(t, args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "flag provided but not defined: -bogus") {
			t.Errorf("meshbox %v = %v (exit %d); want the flag error, exit 2", args, err, exitCode(err))
		}
		if stderr != "" {
			t.Errorf("meshbox %v printed to stderr as well: %q", args, stderr)
		}
	}
}

// TestSubcommandHelp: "COMMAND -h" prints the usage to stdout, exit 0.
func TestSubcommandHelp(t *testing.T) {
	for args, want := range map[string]string{
		"listen -h":     "usage: meshbox listen URL [TYPE...]",
		"listen --help": "usage: meshbox listen URL [TYPE...]",
		"send -h":       "usage: meshbox send URL TYPE [JSON]",
		"check -h":      "usage: meshbox check",
		"pins -h":       "usage: meshbox pins",
		"update -h":     "usage: meshbox update",
	} {
		out, stderr, err := runCmd(t, strings.Fields(args)...)
		if err != nil || !strings.Contains(out, want) || stderr != "" {
			t.Errorf("meshbox %s = %v, stdout %q, stderr %q; want exit 0 and %q on stdout", args, err, out, stderr, want)
		}
	}
}

// TestListenFlagValidated: a malformed -listen is a usage error (exit 2)
// found before anything is logged or opened.
func TestListenFlagValidated(t *testing.T) {
	for _, addr := range []string{"nonsense", "8765", ":99999", "host:port", "[::1"} {
		_, stderr, err := runCmd(t, "-sim", "-listen", addr)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "-listen") {
			t.Errorf("-listen %q = %v (exit %d); want a usage error", addr, err, exitCode(err))
		}
		if stderr != "" {
			t.Errorf("-listen %q logged before failing: %q", addr, stderr)
		}
	}
	for _, addr := range []string{":8765", "127.0.0.1:0", "[::1]:8765", "meshbox.local:80"} {
		if err := checkListen(addr); err != nil {
			t.Errorf("checkListen(%q) = %v", addr, err)
		}
	}
}

// TestBindFailsBeforeHardware: with the port in use, serve fails (exit 1)
// with a clear message before any output is claimed or pairing is shown.
func TestBindFailsBeforeHardware(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	board := simhost.New(simhost.Options{Seed: 1})
	dir := t.TempDir()
	env := map[string]string{"MESH_AUTH_TOKEN": "tok-bind-test", "MESHBOX_STATE_DIR": dir}
	logs := &syncBuf{}
	e := &Env{Args: nil, Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: logs, Stderr: logs}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = serve(ctx, e, []string{"-sim", "-listen", busy.Addr().String()}, serveHooks{board: board})
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "cannot listen on "+busy.Addr().String()) ||
		!strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "hardware left untouched") {
		t.Fatalf("serve on a busy port = %v (exit %d)", err, exitCode(err))
	}
	for _, o := range config.Demo().Outputs {
		if o.Kind == config.KindPWM {
			continue
		}
		if _, claimed := board.OutputLevel(gpio.Line{Offset: o.Pin.BCM}); claimed {
			t.Errorf("output %s was claimed before the bind failed", o.ID)
		}
	}
	for _, never := range []string{"boot state", "pairing", "simulated hardware"} {
		if strings.Contains(logs.String(), never) {
			t.Errorf("log mentions %q before the bind failure:\n%s", never, logs.String())
		}
	}
}

// TestServeLogsNoTokenAndHardware: neither the token, a part of it nor a
// hash of it is logged (a short hash confirms a guessed weak token; #12
// finding 8), and the log says the hardware is simulated and why.
func TestServeLogsNoTokenAndHardware(t *testing.T) {
	const tok = "_RPAsecretTokenValue123"
	addr, stop, logs := startServe(t, map[string]string{"MESH_AUTH_TOKEN": tok}, "-sim")
	_ = addr
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	sum := sha256.Sum256([]byte(tok))
	for _, leak := range []string{tok[:4], tok[len(tok)-4:], "hint=_RPA", hex.EncodeToString(sum[:4]), "sha256"} {
		if strings.Contains(out, leak) {
			t.Errorf("log contains %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, `hardware="simulated (-sim)"`) || strings.Contains(out, "sim=false") {
		t.Errorf("serving line does not say the hardware is simulated:\n%s", out)
	}
}

// TestCheckPositionalAndDefault: the file may be a positional argument;
// without one and without the default file, check says so and checks the
// built-in demo (what serve runs).
func TestCheckPositionalAndDefault(t *testing.T) {
	ex := filepath.Join("..", "..", "examples", "greenhouse.yaml")
	out, _, err := runCmd(t, "check", ex)
	if err != nil || !strings.Contains(out, "config   "+ex) || !strings.Contains(out, "ok: 4 outputs, 2 inputs, 5 sensors, 0 serial devices") {
		t.Fatalf("check FILE = %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "check", filepath.Join("..", "..", "examples", "serial.yaml"))
	if err != nil || !strings.Contains(out, "ok: 1 output, 0 inputs, 0 sensors, 3 serial devices") {
		t.Fatalf("check serial.yaml = %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "check", ex, "-config", ex); exitCode(err) != 2 {
		t.Errorf("file twice: %v", err)
	}
	if _, _, err := runCmd(t, "check", ex, ex); exitCode(err) != 2 {
		t.Errorf("two files: %v", err)
	}
	if _, err := os.Stat(config.DefaultPath); err == nil {
		t.Skipf("%s exists on this machine", config.DefaultPath)
	}
	out, stderr, err := runCmd(t, "check")
	if err != nil || !strings.Contains(out, "config   built-in demo") ||
		!strings.Contains(stderr, "no config file at "+config.DefaultPath+"; checking the built-in demo") {
		t.Fatalf("check without a file = %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	// Naming the default file explicitly still reports it missing.
	if _, _, err := runCmd(t, "check", "-config", config.DefaultPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("check -config %s = %v", config.DefaultPath, err)
	}
}

// TestClientCommandsHelpExitZero runs listen -h through run and main's
// exit mapping.
func TestClientCommandsHelpExitZero(t *testing.T) {
	var out bytes.Buffer
	env := &Env{Args: []string{"listen", "-h"}, Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &out}
	if err := run(context.Background(), env); err != nil {
		t.Fatalf("listen -h = %v", err)
	}
	if !strings.Contains(out.String(), "URL [TYPE...]") {
		t.Fatalf("listen -h printed %q", out.String())
	}
}
