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
		return nil, explain(err, opts.Token)
	}
	return c, nil
}

// explain adds what to do to a refused identify a user can fix.
func explain(err error, token string) error {
	var ce *wire.CloseError
	if !errors.As(err, &ce) || ce.Code != 1008 {
		return err
	}
	switch {
	case ce.Reason == "unauthorized" && token == "":
		return fmt.Errorf("%w (no token given: set MESH_AUTH_TOKEN or --token; `meshbox qr` on the box shows it)", err)
	case ce.Reason == "unauthorized":
		return fmt.Errorf("%w (the token is wrong for this relay)", err)
	case ce.Reason == "invalid name or channel":
		return fmt.Errorf("%w (names and channels: letters, digits, _ and -, up to 64)", err)
	}
	return err
}

// parseCmd parses a client command's flags (default timeout def), checks
// that it has between minPos and maxPos (-1: any) positionals and
// normalizes the first one, the relay URL (see normalizeURL).
func parseCmd(name string, def time.Duration, args []string, minPos, maxPos int, usage string) (common, []string, error) {
	var cf common
	pos, err := parse(newFlagSet(name, &cf, def), args, usage)
	if err != nil {
		return cf, nil, err
	}
	if len(pos) < minPos || (maxPos >= 0 && len(pos) > maxPos) {
		return cf, nil, usagef("%s (meshbox %s -h for help)", usage, name)
	}
	if len(pos) > 0 {
		if pos[0], err = normalizeURL(pos[0]); err != nil {
			return cf, nil, err
		}
	}
	return cf, pos, nil
}

// frameCmd is the parsed "URL TYPE [JSON]" of send and request.
type frameCmd struct {
	cf      common
	typ     string
	payload json.RawMessage // sealed with --key
	room    *room
}

// openFrameCmd parses "URL TYPE [JSON]" and connects to URL.
func openFrameCmd(ctx context.Context, env IO, name string, args []string, usage string) (*meshsocket.Client, frameCmd, error) {
	cf, pos, err := parseCmd(name, 5*time.Second, args, 2, 3, usage)
	if err != nil {
		return nil, frameCmd{}, err
	}
	payload, err := payloadArg(pos, 2)
	if err != nil {
		return nil, frameCmd{}, err
	}
	rm, err := cf.room(env)
	if err != nil {
		return nil, frameCmd{}, err
	}
	if payload, err = rm.seal(pos[1], payload); err != nil {
		return nil, frameCmd{}, err
	}
	c, err := connect(ctx, cf.options(env, pos[0]), cf.timeout)
	if err != nil {
		return nil, frameCmd{}, err
	}
	return c, frameCmd{cf: cf, typ: pos[1], payload: payload, room: rm}, nil
}

// Send runs "send URL TYPE [JSON]": one fire-and-forget frame.
func Send(ctx context.Context, env IO, args []string) error {
	c, fa, err := openFrameCmd(ctx, env, "send", args,
		"usage: meshbox send URL TYPE [JSON] [flags]")
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(ctx, fa.typ, fa.payload); err != nil {
		return fmt.Errorf("send %s: %w", fa.typ, err)
	}
	// The relay handles a connection's frames in order: once it answers
	// this ping, it has processed the frame above.
	bctx, cancel := context.WithTimeout(ctx, fa.cf.timeout)
	defer cancel()
	_, _ = c.Request(bctx, "ping", nil)
	if fa.cf.json {
		fmt.Fprintf(env.Stdout, "{\"sent\":true,\"type\":%q}\n", fa.typ)
	}
	return nil
}

// Request runs "request URL TYPE [JSON]": prints the reply payload.
func Request(ctx context.Context, env IO, args []string) error {
	c, fa, err := openFrameCmd(ctx, env, "request", args,
		"usage: meshbox request URL TYPE [JSON] [flags]")
	if err != nil {
		return err
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, fa.cf.timeout)
	defer cancel()
	out, err := c.Request(rctx, fa.typ, fa.payload)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no reply to %s within %v (unknown types get no reply)", fa.typ, fa.cf.timeout)
	}
	if err != nil {
		return err
	}
	if pt, ok := fa.room.open(out); ok {
		out = pt
	}
	if err := printJSON(env, out, fa.cf.json); err != nil {
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
// goes away. A TYPE matches a frame's type (broadcast, welcome, …) or the
// msg_type of its payload (metrics, state, command_ack, …).
func Listen(ctx context.Context, env IO, args []string) error {
	cf, pos, err := parseCmd("listen", 10*time.Second, args, 1, -1,
		"usage: meshbox listen URL [TYPE...] [flags]   (TYPE: a frame type or a payload msg_type, e.g. metrics)")
	if err != nil {
		return err
	}
	rm, err := cf.room(env)
	if err != nil {
		return err
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
	types := map[string]bool{}
	for _, typ := range pos[1:] {
		types[typ] = true
	}
	c.OnUnhandled(func(ctx context.Context, f meshsocket.Frame) (any, error) {
		if pt, ok := rm.open(f.Payload); ok {
			f.Payload = pt // shown (and filtered) opened; an envelope that does not open is shown as it came
		}
		if len(types) > 0 && !types[f.Type] && !types[payloadMsgType(f.Payload)] {
			return nil, nil
		}
		return printFrame(ctx, f)
	})
	sctx, cancel := context.WithTimeout(ctx, cf.timeout)
	err = c.Start(sctx)
	cancel()
	if err != nil {
		return explain(err, opts.Token)
	}
	fmt.Fprintf(env.Stderr, "meshbox listen: connected to %s as %s on channel %s\n", meshsocket.SafeURL(pos[0]), c.Name(), opts.Channel)
	<-ctx.Done()
	return nil
}

// payloadMsgType is the msg_type of a JSON object payload ("" otherwise).
func payloadMsgType(p json.RawMessage) string {
	var m struct {
		MsgType string `json:"msg_type"`
	}
	if len(p) == 0 || p[0] != '{' || json.Unmarshal(p, &m) != nil {
		return ""
	}
	return m.MsgType
}

// Nodes runs "nodes URL": the relay's roster (get_nodes, as a monitor).
func Nodes(ctx context.Context, env IO, args []string) error {
	cf, pos, err := parseCmd("nodes", 5*time.Second, args, 1, 1,
		"usage: meshbox nodes URL [flags]")
	if err != nil {
		return err
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
