package admin

// "meshbox update URL|FILE": a binary installed here or pushed to a box
// (-box); internal/update fetches, pushes and installs it.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/meshbox/meshbox/internal/cli"
	"github.com/meshbox/meshbox/internal/update"
)

// Update installs a new meshbox binary, either on this machine (into the
// state directory the service runs updates from, then restarts the
// service) or, with -box, on a running box over the LAN (POST /update).
// The signature (FILE.sig, or -sig) goes with it; a box with an update key
// installs only signed binaries. A URL is downloaded here, never by the
// box. Rollback of an update that does not come up healthy is automatic;
// see internal/update.
func Update(ctx context.Context, env cli.IO, version string, args []string) error {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	sum := fs.String("sha256", "", "expected SHA-256 of the new binary (hex)")
	sigFlag := fs.String("sig", "", "signature file or URL (default: the binary's name + .sig, when it exists)")
	state := fs.String("state", "/var/lib/meshbox", "state directory of the local box")
	keyFile := fs.String("key", update.DefaultKeyFile, "update public key of the local box (when it exists, only signed binaries are installed)")
	restart := fs.Bool("restart", true, "restart meshbox.service after a local install")
	box := fs.String("box", "", "push to a running box instead: http://HOST:8765")
	token := fs.String("token", "", "owner credential for -box (sudo meshbox owner-token on the box; default $MESHBOX_OWNER_TOKEN)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := parseFlags(env, fs, args,
		"usage: meshbox update [-sha256 HEX] [-sig FILE] [-state DIR] [-restart=false] URL|FILE",
		"       meshbox update -box http://HOST:8765 [-token T] [-sha256 HEX] [-sig FILE] URL|FILE"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("update: give one URL or FILE (meshbox update -h for help)")
	}
	src := fs.Arg(0)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	tok := *token
	if *box != "" {
		if tok == "" && env.Getenv != nil {
			tok = env.Getenv("MESHBOX_OWNER_TOKEN")
		}
		if tok == "" {
			return usageErr("update -box needs the owner credential: -token or MESHBOX_OWNER_TOKEN (sudo meshbox owner-token on the box prints it; member tokens cannot install updates)")
		}
	}
	client := update.Client{Out: env.Stdout}
	bin, sig, cleanup, err := client.Fetch(ctx, src, *sigFlag)
	if err != nil {
		return err
	}
	defer cleanup()
	if *box != "" {
		reply, err := client.Push(ctx, *box, tok, bin, sig, *sum)
		if err != nil {
			return err
		}
		signed := "unsigned: the box has no update key"
		if reply.Signed {
			signed = "signature verified"
		}
		fmt.Fprintf(env.Stdout, "the box installed meshbox %s (was %s, %s) and is restarting; it rolls back by itself if the new version is not healthy\n",
			reply.Version, reply.From, signed)
		return nil
	}

	// The updater's warnings are this command's output (stderr), not a
	// service log: always at warn level, whatever MESHBOX_LOG_LEVEL says.
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	u := &update.Updater{Layout: update.Layout{StateDir: *state}, Version: version, Logger: logger, KeyFile: *keyFile}
	fmt.Fprintf(env.Stdout, "installing %s into %s\n", src, u.Layout.BinDir())
	inst, err := u.InstallFrom(ctx, bin, update.Check{SHA256: *sum, Signature: sig})
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w (run with sudo, or push over the LAN: meshbox update -box http://HOST:8765 %s)", err, src)
	}
	if err != nil {
		return err
	}
	signed := "unsigned: this box has no update key"
	if inst.Signed {
		signed = "signature verified"
	}
	fmt.Fprintf(env.Stdout, "installed meshbox %s (sha256 %s, %d bytes, %s) as %s\n", inst.Version, inst.SHA256, inst.Size, signed, inst.Path)
	if !*restart {
		fmt.Fprintln(env.Stdout, "it runs at the next start of meshbox.service (rolled back if it does not come up healthy)")
		return nil
	}
	systemctl, err := exec.LookPath("systemctl")
	if err != nil {
		fmt.Fprintln(env.Stdout, "no systemctl: restart meshbox yourself to run the new version")
		return nil
	}
	out, err := exec.CommandContext(ctx, systemctl, "restart", "meshbox.service").CombinedOutput()
	if err != nil {
		return fmt.Errorf("installed, but restarting meshbox.service failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
	fmt.Fprintln(env.Stdout, "restarted meshbox.service; it rolls back by itself if the new version is not healthy")
	return nil
}
