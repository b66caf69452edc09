package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
	"github.com/meshbox/meshbox/meshsocket"
)

func randHex() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// payloadArg reads the optional JSON argument (absent: null).
func payloadArg(args []string, i int) (json.RawMessage, error) {
	if len(args) <= i {
		return nil, nil
	}
	p := json.RawMessage(args[i])
	if !json.Valid(p) {
		return nil, usagef("payload %q is not valid JSON (quote strings: '\"text\"')", args[i])
	}
	return p, nil
}

// connect starts a one-shot client and waits for welcome.
func connect(ctx context.Context, opts meshsocket.Options, timeout time.Duration) (*meshsocket.Client, error) {
	c, err := meshsocket.New(opts)
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := c.Start(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Send runs "send URL TYPE [JSON]": one fire-and-forget frame.
func Send(ctx context.Context, env IO, args []string) error {
	var cf common
	fs := newFlagSet("send", &cf, 5*time.Second)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || len(pos) > 3 {
		return usagef("usage: meshbox send URL TYPE [JSON] [--name N] [--channel C] [--role R] [--token T]")
	}
	payload, err := payloadArg(pos, 2)
	if err != nil {
		return err
	}
	c, err := connect(ctx, cf.options(env, pos[0]), cf.timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(ctx, pos[1], payload); err != nil {
		return fmt.Errorf("send %s: %w", pos[1], err)
	}
	// The relay handles a connection's frames in order: once it answers
	// this ping, it has processed the frame above.
	bctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	_, _ = c.Request(bctx, "ping", nil)
	if cf.json {
		fmt.Fprintf(env.Stdout, "{\"sent\":true,\"type\":%q}\n", pos[1])
	}
	return nil
}

// Request runs "request URL TYPE [JSON]": prints the reply payload.
func Request(ctx context.Context, env IO, args []string) error {
	var cf common
	fs := newFlagSet("request", &cf, 5*time.Second)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || len(pos) > 3 {
		return usagef("usage: meshbox request URL TYPE [JSON] [--json] [--timeout D] [--name N] [--channel C] [--role R] [--token T]")
	}
	payload, err := payloadArg(pos, 2)
	if err != nil {
		return err
	}
	c, err := connect(ctx, cf.options(env, pos[0]), cf.timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	out, err := c.Request(rctx, pos[1], payload)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no reply to %s within %v (unknown types get no reply)", pos[1], cf.timeout)
	}
	if err != nil {
		return err
	}
	if err := printJSON(env, out, cf.json); err != nil {
		return err
	}
	return meshsocket.CheckReply(out)
}

func printJSON(env IO, raw json.RawMessage, compact bool) error {
	var buf bytes.Buffer
	var err error
	if compact {
		err = json.Compact(&buf, raw)
	} else {
		err = json.Indent(&buf, raw, "", "  ")
	}
	if err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	buf.WriteByte('\n')
	_, err = env.Stdout.Write(buf.Bytes())
	return err
}

// Listen runs "listen URL [TYPE...]": prints inbound frames (all, or the
// given types) as JSON lines until ctx is done, reconnecting if the relay
// goes away.
func Listen(ctx context.Context, env IO, args []string) error {
	var cf common
	fs := newFlagSet("listen", &cf, 10*time.Second)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return usagef("usage: meshbox listen URL [TYPE...] [--name N] [--channel C] [--role R] [--token T]")
	}
	opts := cf.options(env, pos[0])
	opts.NoReconnect = false
	opts.OnDisconnect = func(err error) {
		if ctx.Err() == nil {
			fmt.Fprintf(env.Stderr, "meshbox listen: connection lost (%v), reconnecting\n", err)
		}
	}
	c, err := meshsocket.New(opts)
	if err != nil {
		return err
	}
	defer c.Close()
	var mu sync.Mutex
	printFrame := func(_ context.Context, f meshsocket.Frame) (any, error) {
		line := wire.Encode(f)
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(env.Stdout, "%s\n", line)
		return nil, err
	}
	if len(pos) == 1 {
		c.OnUnhandled(printFrame)
	}
	for _, typ := range pos[1:] {
		c.On(typ, printFrame)
	}
	sctx, cancel := context.WithTimeout(ctx, cf.timeout)
	err = c.Start(sctx)
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "meshbox listen: connected to %s as %s\n", meshsocket.SafeURL(pos[0]), c.Name())
	<-ctx.Done()
	return nil
}

// Nodes runs "nodes URL": the relay's roster (get_nodes, as a monitor).
func Nodes(ctx context.Context, env IO, args []string) error {
	var cf common
	fs := newFlagSet("nodes", &cf, 5*time.Second)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: meshbox nodes URL [--json] [--channel C] [--token T]")
	}
	opts := cf.options(env, pos[0])
	opts.CanMonitor = meshsocket.Bool(true)
	c, err := connect(ctx, opts, cf.timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	nodes, err := c.Nodes(rctx)
	if err != nil {
		return err
	}
	sort.Slice(nodes, func(i, j int) bool {
		if nodes[i].Channel != nodes[j].Channel {
			return nodes[i].Channel < nodes[j].Channel
		}
		return nodes[i].Name < nodes[j].Name
	})
	if cf.json {
		if nodes == nil {
			nodes = []meshsocket.Node{}
		}
		b, _ := json.Marshal(nodes)
		_, err := fmt.Fprintf(env.Stdout, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCHANNEL\tROLE\tID")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, n.Channel, n.Role, n.ID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(nodes) == 0 {
		fmt.Fprintln(env.Stderr, "(no other clients visible; the relay lists peers only to can_monitor clients in scope)")
	}
	return nil
}
