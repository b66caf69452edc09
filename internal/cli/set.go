package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/meshbox/meshbox/meshsocket"
)

// ErrRefused is returned by Set when the box answered ok:false.
var ErrRefused = errors.New("refused")

// Set runs "set URL TARGET VALUE": broadcasts {"msg_type":"cmd","target":T,
// "value":V,"_cmd":ID,"_from":NAME} as a phone does, waits for the box's
// command_ack for ID and prints it. An ok:false ack is an error (exit 1)
// with the box's reason.
func Set(ctx context.Context, env IO, args []string) error {
	const usage = "usage: meshbox set URL TARGET VALUE [flags]   (VALUE: true, false, on, off, a number or JSON)"
	cf, pos, err := parseCmd("set", 5*time.Second, args, 3, 3, usage)
	if err != nil {
		return err
	}
	value := setValue(pos[2])
	raw, err := ackedSend(ctx, env, cf, pos[0], pos[1], map[string]any{"msg_type": "cmd", "target": pos[1], "value": value})
	if err != nil {
		return err
	}
	return reportAck(env, cf, raw, pos[1], pos[2])
}

// ackedSend broadcasts payload with a fresh _cmd id (sealed in an
// encrypted room) and waits for the box's command_ack for it. what names
// the request in messages.
func ackedSend(ctx context.Context, env IO, cf common, url, what string, payload map[string]any) (json.RawMessage, error) {
	rm, err := cf.room(env)
	if err != nil {
		return nil, err
	}
	opts := cf.options(env, url)
	cmdID := uuid.NewString()
	acks := make(chan json.RawMessage, 1)
	c, err := meshsocket.New(opts)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.On("broadcast", func(_ context.Context, f meshsocket.Frame) (any, error) {
		var ack struct {
			MsgType string `json:"msg_type"`
			CmdID   string `json:"cmd_id"`
		}
		p := f.Payload
		if pt, ok := rm.open(p); ok {
			p = pt
		} else if rm != nil {
			return nil, nil // an encrypted room: only sealed acks count
		}
		if json.Unmarshal(p, &ack) == nil && ack.MsgType == "command_ack" && ack.CmdID == cmdID {
			select {
			case acks <- p:
			default:
			}
		}
		return nil, nil
	})
	sctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	if err := c.Start(sctx); err != nil {
		return nil, explain(err, opts.Token)
	}
	payload["_cmd"], payload["_from"] = cmdID, c.Name()
	var frame any = payload
	if rm != nil {
		if frame, err = rm.r.SealJSON(payload); err != nil {
			return nil, err
		}
	}
	if err := c.Send(sctx, "broadcast_request", frame); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	select {
	case raw := <-acks:
		return raw, nil
	case <-sctx.Done():
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("no command_ack for %s within %v (is a meshbox bridge on channel %s?)", what, cf.timeout, opts.Channel)
	}
}

// reportAck prints a command_ack (JSON with --json, else "ok: WHAT = SHOWN")
// and turns ok:false into ErrRefused with the box's reason.
func reportAck(env IO, cf common, raw json.RawMessage, what, shown string) error {
	var ack struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &ack)
	if cf.json {
		if err := printJSON(env, raw, true); err != nil {
			return err
		}
	} else if ack.OK {
		fmt.Fprintf(env.Stdout, "ok: %s = %s\n", what, shown)
	}
	if !ack.OK {
		reason := ack.Error
		if reason == "" {
			reason = "no reason given"
		}
		return fmt.Errorf("%s: %w: %s", what, ErrRefused, reason)
	}
	return nil
}

// setValue reads VALUE: JSON when it parses (true, 42, "text", {...}),
// else the word itself as a string (on, off, 75%).
func setValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	return s
}
