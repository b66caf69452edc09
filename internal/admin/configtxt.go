package admin

// "meshbox config-txt": the config.txt block flash.sh writes (buses and
// power-on output levels), from internal/bootcfg.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/meshbox/meshbox/internal/bootcfg"
	"github.com/meshbox/meshbox/internal/cli"
	"github.com/meshbox/meshbox/internal/config"
)

// ConfigTxt prints the config.txt block of a config (the built-in demo
// without one), and its boot warnings to stderr.
func ConfigTxt(_ context.Context, env cli.IO, args []string) error {
	fs := flag.NewFlagSet("config-txt", flag.ContinueOnError)
	path := fs.String("config", "", "config file (default: the built-in demo)")
	model := fs.String("board", "", "resolve board: auto against this model (default: detected, else pi4)")
	if err := parseFlags(env, fs, args, "usage: meshbox config-txt [-board MODEL] [-config FILE | FILE]",
		"prints the config.txt block scripts/flash.sh writes: bus lines and one gpio= line per output at its power-on level"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 1:
		return usageErr(fmt.Sprintf("config-txt: unexpected argument %q", fs.Arg(1)))
	case fs.NArg() == 1 && *path != "":
		return usageErr("config-txt: give the file either as an argument or with -config, not both")
	case fs.NArg() == 1:
		*path = fs.Arg(0)
	}
	detected, err := boardFlag(*model)
	if err != nil {
		return usageErr(err.Error())
	}
	cfg := config.Demo()
	if *path != "" {
		if cfg, err = config.LoadFor(*path, detected); err != nil {
			return reportConfigError(env.Stderr, *path, err)
		}
	}
	fmt.Fprintln(env.Stdout, strings.Join(bootcfg.Block(cfg), "\n"))
	for _, w := range bootcfg.Warnings(cfg) {
		fmt.Fprintln(env.Stderr, "warning:", w)
	}
	return nil
}
