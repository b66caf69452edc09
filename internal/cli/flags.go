package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/meshbox/meshbox/meshsocket"
)

// IO is what a command needs from the process.
type IO struct {
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
}

// UsageError is a bad command line (the caller exits with code 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// common holds the flags every client command takes.
type common struct {
	name, channel, role, token, ca string
	json                           bool
	timeout                        time.Duration
	verbose                        bool
}

func newFlagSet(cmd string, c *common, defTimeout time.Duration) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.name, "name", "", "client name (default meshbox-cli-<random>)")
	fs.StringVar(&c.channel, "channel", "", "channel to join (relay default: \"default\")")
	fs.StringVar(&c.role, "role", "node", "role to identify with")
	fs.StringVar(&c.token, "token", "", "relay token (default $MESH_AUTH_TOKEN)")
	fs.StringVar(&c.ca, "ca", "", "PEM CA file to trust for wss:// (default system roots)")
	fs.BoolVar(&c.json, "json", false, "machine-readable JSON output")
	fs.DurationVar(&c.timeout, "timeout", defTimeout, "time allowed to connect and to get an answer")
	fs.BoolVar(&c.verbose, "v", false, "log connection events to stderr")
	return fs
}

// parse parses flags anywhere among the positional arguments ("--" ends
// flags) and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos, rest []string
	for i, a := range args {
		if a == "--" {
			rest = args[i+1:]
			args = args[:i]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usagef("%s", usageText(fs))
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return append(pos, rest...), nil
}

func usageText(fs *flag.FlagSet) string {
	s := "usage: meshbox " + fs.Name() + " [flags]"
	fs.VisitAll(func(f *flag.Flag) {
		s += fmt.Sprintf("\n  --%s\t%s", f.Name, f.Usage)
	})
	return s
}

// options turns the flags into client options.
func (c *common) options(env IO, url string) meshsocket.Options {
	tok := c.token
	if tok == "" && env.Getenv != nil {
		tok = env.Getenv("MESH_AUTH_TOKEN")
	}
	name := c.name
	if name == "" {
		name = "meshbox-cli-" + randHex()
	}
	level := slog.LevelError + 1 // quiet
	if c.verbose {
		level = slog.LevelDebug
	}
	return meshsocket.Options{
		URL:         url,
		Name:        name,
		Token:       tok,
		Channel:     c.channel,
		Role:        c.role,
		CAFile:      c.ca,
		NoReconnect: true,
		Logger:      slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level})),
	}
}
