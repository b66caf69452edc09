package admin

// "meshbox pins": the 40-pin header and what a config puts on it.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/meshbox/meshbox/board"
	"github.com/meshbox/meshbox/internal/cli"
	"github.com/meshbox/meshbox/internal/config"
)

// Pins prints the header of the named, configured or detected board,
// with meshbox's assignments when -config is given.
func Pins(_ context.Context, env cli.IO, args []string) error {
	fs := flag.NewFlagSet("pins", flag.ContinueOnError)
	model := fs.String("board", "", "board model: "+strings.Join(board.Models(), ", ")+" (default: detected, else "+board.Default+")")
	path := fs.String("config", "", "also show the pins this config uses")
	demo := fs.Bool("demo", false, "show the built-in demo's pins")
	if err := parseFlags(env, fs, args, "usage: meshbox pins [-board MODEL] [-config PATH] [-demo]"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("pins: unexpected argument %q", fs.Arg(0)))
	}
	named, err := boardFlag(*model)
	if err != nil {
		return usageErr(err.Error())
	}
	var cfg *config.Config
	switch {
	case *demo:
		cfg = config.Demo()
	case *path != "":
		cfg, err = config.LoadFor(*path, named)
		if err != nil {
			return reportConfigError(env.Stderr, *path, err)
		}
	}
	m, note := named, ""
	switch {
	case *model != "":
	case cfg != nil && cfg.Board != "auto":
		m = cfg.Board
	case m == "":
		m, note = board.Default, fmt.Sprintf("(board not detected; showing %s, choose another with -board)\n", board.Default)
	}
	h, err := board.Lookup(m)
	if err != nil {
		return usageErr(err.Error())
	}
	io.WriteString(env.Stdout, note)
	var assigned map[int]string
	if cfg != nil {
		assigned = cfg.Assignments()
	}
	if err := h.Render(env.Stdout, assigned); err != nil {
		return err
	}
	if cfg != nil {
		var other []string
		for _, o := range cfg.Outputs {
			if o.Pin.Chip != "" {
				other = append(other, fmt.Sprintf("  %s %s on %s", o.Kind, o.ID, o.Pin))
			}
		}
		for _, in := range cfg.Inputs {
			if in.Pin.Chip != "" {
				other = append(other, fmt.Sprintf("  input %s on %s", in.ID, in.Pin))
			}
		}
		if len(other) > 0 {
			sort.Strings(other)
			fmt.Fprintf(env.Stdout, "\nnot on the header:\n%s\n", strings.Join(other, "\n"))
		}
	}
	return nil
}
