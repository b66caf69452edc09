// Command meshload measures a MeshSocket relay: broadcast fan-out throughput
// and loss, delivery latency, and the memory cost of idle members.
//
//	meshload -mode fanout  -subs 100 -duration 10s            # deliveries/s, loss, latency
//	meshload -mode latency -subs 50 -rate 100 -duration 10s   # latency at a fixed rate
//	meshload -mode idle    -n 1000 -pid $(pidof meshbox)      # RSS with N identified idle members
//	meshload -mode idle -client python ...                    # ... joined like Python websockets does
//	meshload -mode fanout -compare                            # meshbox vs a minimal relay, ratio
//
// Without -url it starts an embedded relay (rate limit off) on loopback; with
// -url ws://HOST:PORT it drives an external relay (start meshbox with
// MESH_RATE_LIMIT=0 for fanout, and pass -token or MESH_AUTH_TOKEN).
//
// In fanout mode one publisher sends as fast as the window allows: at most
// -window frames per subscriber may be published but not yet received, so
// the figure is the sustainable rate with zero loss by construction of the
// load (a loss reported means the relay dropped or reaped someone).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/meshbox/meshbox/internal/relay"
)

type options struct {
	url      string
	token    string
	mode     string
	subs     int
	n        int
	duration time.Duration
	window   int
	size     int
	rate     int
	pid      int
	channel  string
	conc     int

	compare    bool   // fanout/latency: alternate rounds against a minimal relay
	rounds     int    // -compare rounds
	serve      string // child mode: meshbox | minimal
	listen     string // child mode address
	cpuprofile string // child mode
	memprofile string // child mode
	spawn      bool   // run the meshbox relay in a child process (not in this one)
	client     string // idle: go | python
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "meshload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("meshload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "relay URL (default: an embedded relay on loopback)")
	fs.StringVar(&o.token, "token", getenv("MESH_AUTH_TOKEN"), "shared token (default $MESH_AUTH_TOKEN)")
	fs.StringVar(&o.mode, "mode", "fanout", "fanout | latency | idle")
	fs.IntVar(&o.subs, "subs", 100, "subscribers (fanout, latency)")
	fs.IntVar(&o.n, "n", 1000, "idle members (idle)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to publish (or to hold idle members)")
	fs.IntVar(&o.window, "window", 128, "fanout: frames in flight per subscriber")
	fs.IntVar(&o.size, "size", 64, "payload padding in bytes")
	fs.IntVar(&o.rate, "rate", 100, "latency: frames per second")
	fs.IntVar(&o.pid, "pid", 0, "idle: relay process whose RSS to report")
	fs.StringVar(&o.channel, "channel", "load", "channel to use")
	fs.IntVar(&o.conc, "connect", 8, "concurrent connection attempts (keep below the relay's pending-per-IP cap)")
	fs.BoolVar(&o.compare, "compare", false, "fanout/latency: run alternating rounds against meshbox and a minimal relay, both in child processes (or meshbox at -url), and print the ratio")
	fs.IntVar(&o.rounds, "rounds", 3, "-compare: rounds (each runs both relays)")
	fs.StringVar(&o.serve, "serve", "", "internal: serve a relay in this process (meshbox | minimal) until stdin closes")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "-serve: listen address")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "-serve: write a CPU profile of the relay process")
	fs.StringVar(&o.memprofile, "memprofile", "", "-serve: write a heap profile of the relay process at exit")
	fs.BoolVar(&o.spawn, "spawn", false, "without -url: run the meshbox relay in a child process (pass -cpuprofile/-memprofile to profile it)")
	fs.StringVar(&o.client, "client", "go", "idle: go (gorilla) | python (the handshake, headers and pacing of Python websockets 10.4, the reference client's transport)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.serve != "" {
		return serveChild(ctx, o, os.Stdin, stdout)
	}
	if o.compare {
		if o.mode != "fanout" && o.mode != "latency" {
			return fmt.Errorf("-compare needs -mode fanout or latency")
		}
		return compare(ctx, o, stdout)
	}
	if o.url == "" && o.spawn {
		var extra []string
		if o.cpuprofile != "" {
			extra = append(extra, "-cpuprofile", o.cpuprofile)
		}
		if o.memprofile != "" {
			extra = append(extra, "-memprofile", o.memprofile)
		}
		c, err := spawn("meshbox", o.token, extra...)
		if err != nil {
			return err
		}
		defer c.stop()
		o.url = c.url
		if o.pid == 0 {
			o.pid = c.pid
		}
		fmt.Fprintf(stdout, "meshbox relay child pid %d at %s\n", c.pid, c.url)
	}
	if o.url == "" {
		url, stop, err := embedded(o.token)
		if err != nil {
			return err
		}
		defer stop()
		o.url = url
		fmt.Fprintf(stdout, "embedded relay at %s\n", url)
	}
	switch o.mode {
	case "fanout":
		return fanout(ctx, o, stdout, false)
	case "latency":
		return fanout(ctx, o, stdout, true)
	case "idle":
		if o.client != "go" && o.client != "python" {
			return fmt.Errorf("-client %q: want go or python", o.client)
		}
		return idle(ctx, o, stdout)
	}
	return fmt.Errorf("unknown -mode %q", o.mode)
}

// embedded starts an in-process relay for load runs: rate limit and
// pending-per-IP cap off, everything else default.
func embedded(token string) (string, func(), error) {
	cfg := relay.DefaultConfig()
	cfg.RateLimit = -1
	cfg.MaxPendingPerIP = -1
	cfg.MaxConnections = -1
	cfg.AuthToken = token
	srv := relay.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: srv}
	go func() { _ = hs.Serve(ln) }()
	return "ws://" + ln.Addr().String() + "/", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		_ = hs.Shutdown(ctx)
	}, nil
}

// rss reads VmRSS of pid (0 = self) in kB.
func rss(pid int) (int, error) {
	p := "/proc/self/status"
	if pid > 0 {
		p = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int
			_, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), "%d", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in %s", p)
}
