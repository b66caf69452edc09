package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/meshsocket"
)

// IO is what a command needs from the process (internal/admin's commands
// take it too, and return UsageError the same way, so cmd/meshbox maps
// every command's result in one place).
type IO struct {
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
}

// UsageError is a bad command line (the caller exits with code 2). With
// Help set, Msg is the usage text asked for with -h/--help: the caller
// prints it to stdout and exits 0.
type UsageError struct {
	Msg  string
	Help bool
}

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// common holds the flags every client command takes.
type common struct {
	name, channel, role, token, ca string
	key                            string // --key: base64 room key or a key file
	json                           bool
	timeout                        time.Duration
	verbose                        bool
}

func newFlagSet(cmd string, c *common, defTimeout time.Duration) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.name, "name", "", "client name (default meshbox-cli-<random>)")
	fs.StringVar(&c.channel, "channel", "", "channel to join (default $MESH_CHANNEL, else \""+DefaultChannel+"\", the channel meshbox's bridge uses)")
	fs.StringVar(&c.role, "role", "node", "role to identify with")
	fs.StringVar(&c.token, "token", "", "relay token (default $MESH_AUTH_TOKEN)")
	fs.StringVar(&c.ca, "ca", "", "PEM CA file to trust for wss:// (default system roots)")
	fs.StringVar(&c.key, "key", "", "room key of an encrypted room: base64, or a key file such as /var/lib/meshbox/e2ee.key (default $MESH_E2EE_KEY)")
	fs.BoolVar(&c.json, "json", false, "machine-readable JSON output")
	fs.DurationVar(&c.timeout, "timeout", defTimeout, "time allowed to connect and to get an answer")
	fs.BoolVar(&c.verbose, "v", false, "log connection events to stderr")
	return fs
}

// DefaultChannel is the channel the client commands join without --channel
// and $MESH_CHANNEL: meshbox's bridge and the pairing QR use it (§15.1).
const DefaultChannel = config.DefaultChannel

// parse parses flags anywhere among the positional arguments ("--" ends
// flags) and returns the positionals. usage is the command's usage line.
func parse(fs *flag.FlagSet, args []string, usage string) ([]string, error) {
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
				return nil, &UsageError{Msg: usageText(fs, usage), Help: true}
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

// usageText is the usage line followed by the flags and the environment.
func usageText(fs *flag.FlagSet, usage string) string {
	var b strings.Builder
	b.WriteString(usage)
	b.WriteString("\n\nflags:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && !strings.Contains(f.Usage, "(default") {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  --%s\t%s%s\n", f.Name, f.Usage, def)
	})
	_ = tw.Flush()
	b.WriteString("\nURL: ws://HOST:PORT, wss://…, http(s)://… (converted) or HOST[:PORT] (ws://, port 8765)\n")
	b.WriteString("environment: MESH_AUTH_TOKEN (token), MESH_CHANNEL (channel), MESH_E2EE_KEY (key)")
	return b.String()
}

// normalizeURL accepts ws(s):// URLs, converts http(s):// to ws(s):// and
// turns a bare HOST[:PORT][/PATH] into ws://HOST:PORT (default port 8765,
// meshbox's). Other schemes are a usage error.
func normalizeURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", usagef("empty relay URL (want ws://HOST:PORT or HOST:PORT)")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		scheme := strings.ToLower(s[:i])
		switch scheme {
		case "ws", "wss":
			return scheme + s[i:], nil
		case "http":
			return "ws" + s[i:], nil
		case "https":
			return "wss" + s[i:], nil
		}
		return "", usagef("relay URL %q: scheme must be ws or wss (or http, https, converted)", raw)
	}
	host, rest := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		host, rest = s[:i], s[i:]
	}
	if host == "" {
		return "", usagef("relay URL %q has no host (want ws://HOST:PORT or HOST:PORT)", raw)
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		// No port: meshbox's default. A bare IPv6 literal needs brackets.
		h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		host = net.JoinHostPort(h, "8765")
	}
	u, err := url.Parse("ws://" + host + rest)
	if err != nil {
		return "", usagef("relay URL %q: %v", raw, err)
	}
	return u.String(), nil
}

// channel is --channel, else $MESH_CHANNEL, else DefaultChannel.
func (c *common) channelName(env IO) string {
	if c.channel != "" {
		return c.channel
	}
	if env.Getenv != nil {
		if ch := strings.TrimSpace(env.Getenv("MESH_CHANNEL")); ch != "" {
			return ch
		}
	}
	return DefaultChannel
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
		Channel:     c.channelName(env),
		Role:        c.role,
		CAFile:      c.ca,
		NoReconnect: true,
		Logger:      slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level})),
	}
}
