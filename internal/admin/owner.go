package admin

// "meshbox owner-token": read from the state directory, not asked of the
// box, so it works while the box is stopped.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/meshbox/meshbox/internal/auth"
	"github.com/meshbox/meshbox/internal/cli"
	"github.com/meshbox/meshbox/internal/config"
)

// OwnerToken prints the owner credential.
func OwnerToken(_ context.Context, env cli.IO, args []string) error {
	fl := flag.NewFlagSet("owner-token", flag.ContinueOnError)
	path := fl.String("config", config.DefaultPath, "config `file` of the box (for its state directory)")
	if err := parseFlags(env, fl, args, "usage: sudo meshbox owner-token [-config PATH]",
		"Prints the owner credential (the owner's page, meshbox update). It is never in a QR, a layout or a log."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fl.NArg() > 0 {
		return usageErr(fmt.Sprintf("owner-token: unexpected argument %q", fl.Arg(0)))
	}
	dirs, err := stateDirs(env, *path)
	if err != nil {
		return err
	}
	var firstErr error
	for _, d := range dirs {
		tok, err := auth.ReadOwnerToken(d)
		if err == nil {
			fmt.Fprintln(env.Stdout, tok)
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = err
		}
	}
	if errors.Is(firstErr, fs.ErrPermission) {
		return fmt.Errorf("%w (run it as root: sudo meshbox owner-token)", firstErr)
	}
	if firstErr != nil {
		return firstErr
	}
	return fmt.Errorf("no owner credential in %s yet: start meshbox once (it generates one), or set it at flash time (flash.sh --owner-token)",
		filepath.Join(dirs[0], auth.OwnerTokenFile))
}
