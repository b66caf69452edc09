package admin

// "meshbox check": a config validated and its resolved wiring printed.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/meshbox/meshbox/board"
	"github.com/meshbox/meshbox/internal/automation"
	"github.com/meshbox/meshbox/internal/bootcfg"
	"github.com/meshbox/meshbox/internal/cli"
	"github.com/meshbox/meshbox/internal/config"
)

// Check validates a config file and prints the resolved wiring. Problems
// go to stderr one per line as FILE:LINE: FIELD: reason; the exit status is
// then non-zero.
func Check(_ context.Context, env cli.IO, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	path := fs.String("config", "", "config file to check (default "+config.DefaultPath+"; when it does not exist, the built-in demo, as serve would run)")
	model := fs.String("board", "", "resolve board: auto against this model (default: detected, else "+board.Default+")")
	demo := fs.Bool("demo", false, "check the built-in demo config instead of a file")
	if err := parseFlags(env, fs, args, "usage: meshbox check [-board MODEL] [FILE | -config FILE | -demo]"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 1:
		return usageErr(fmt.Sprintf("check: unexpected argument %q (check one file)", fs.Arg(1)))
	case fs.NArg() == 1 && (*path != "" || *demo):
		return usageErr("check: give the file either as an argument or with -config (or -demo), not both")
	case fs.NArg() == 1:
		*path = fs.Arg(0)
	}
	detected, err := boardFlag(*model)
	if err != nil {
		return usageErr(err.Error())
	}
	if !*demo && *path == "" {
		// No file named: what serve would run. The default file when it
		// exists, else the built-in demo — said plainly.
		*path = config.DefaultPath
		if _, err := os.Stat(*path); errors.Is(err, iofs.ErrNotExist) {
			fmt.Fprintf(env.Stderr, "meshbox check: no config file at %s; checking the built-in demo (what meshbox serve runs without -config). Name a file: meshbox check FILE\n", *path)
			*demo = true
		}
	}
	var cfg *config.Config
	if *demo {
		cfg = config.Demo()
	} else {
		cfg, err = config.LoadFor(*path, detected)
		if err != nil {
			return reportConfigError(env.Stderr, *path, err)
		}
	}
	if err := cfg.WriteWiring(env.Stdout); err != nil {
		return err
	}
	writeNextRuns(env.Stdout, cfg, time.Now())
	w := cfg.Warnings()
	for _, bw := range bootcfg.Warnings(cfg) {
		w = append(w, "warning: "+bw.Text)
	}
	if len(w) > 0 {
		fmt.Fprintf(env.Stdout, "\n%s\n", strings.Join(w, "\n"))
	}
	fmt.Fprintf(env.Stdout, "\nok: %s, %s, %s, %s\n",
		plural(len(cfg.Outputs), "output", "outputs"), plural(len(cfg.Inputs), "input", "inputs"),
		plural(len(cfg.Sensors), "sensor", "sensors"), plural(len(cfg.Serial), "serial device", "serial devices"))
	return nil
}

// writeNextRuns prints when each schedule runs next (system time zone).
func writeNextRuns(w io.Writer, cfg *config.Config, now time.Time) {
	next := automation.Next(cfg, now, time.Local)
	if len(next) == 0 {
		return
	}
	ids := make([]string, 0, len(next))
	for id := range next {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintln(w)
	for _, id := range ids {
		if t := next[id]; t.IsZero() {
			fmt.Fprintf(w, "next     %s: none within a year (no sunrise/sunset at this latitude?)\n", id)
		} else {
			fmt.Fprintf(w, "next     %s: %s\n", id, t.Format("Mon 2006-01-02 15:04:05 MST"))
		}
	}
}

// reportConfigError prints each config problem on its own line and returns
// a one-line summary for main to print.
func reportConfigError(w io.Writer, path string, err error) error {
	var list config.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	for _, e := range list {
		fmt.Fprintln(w, e)
	}
	n := "1 problem"
	if len(list) != 1 {
		n = fmt.Sprintf("%d problems", len(list))
	}
	return fmt.Errorf("%s: %s", path, n)
}

// boardFlag returns the canonical model named by -board, or the detected
// board when the flag is empty ("" when detection fails).
func boardFlag(name string) (string, error) {
	if name != "" {
		m, ok := board.Canonical(name)
		if !ok {
			return "", fmt.Errorf("unknown board %q (known: %s)", name, strings.Join(board.Models(), ", "))
		}
		return m, nil
	}
	m, err := board.DetectFS(os.ReadFile)
	if err != nil {
		return "", nil
	}
	return m, nil
}
