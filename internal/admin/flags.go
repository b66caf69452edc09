package admin

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/meshbox/meshbox/internal/cli"
)

// usageErr is a bad command line: cmd/meshbox exits with code 2.
func usageErr(msg string) error { return &cli.UsageError{Msg: msg} }

// parseFlags parses a command's flags once, quietly: -h prints usage (the
// command's usage lines, then its flags) to stdout and returns
// flag.ErrHelp (the caller returns nil: exit 0); a bad flag is returned as
// a usage error, printed once by main (exit 2). The flag package's own
// printing is off because it would print the error and the usage twice.
func parseFlags(env cli.IO, fs *flag.FlagSet, args []string, usage ...string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(flagsFirst(fs, args))
	if errors.Is(err, flag.ErrHelp) {
		for _, l := range usage {
			fmt.Fprintln(env.Stdout, l)
		}
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return usageErr(fmt.Sprintf("%s: %v (meshbox %s -h for help)", fs.Name(), err, fs.Name()))
	}
	return nil
}

// flagsFirst moves the flags among args before the positional arguments
// ("check FILE -board pi5" = "check -board pi5 FILE"); after "--" every
// argument is positional.
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // unknown: Parse reports it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if len(pos) == 0 {
		return flags
	}
	return append(append(flags, "--"), pos...)
}

// plural is "1 input", "2 inputs".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
