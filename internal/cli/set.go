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
	rm, err := cf.room(env)
	if err != nil {
		return err
	}
	opts := cf.options(env, pos[0])
	cmdID := uuid.NewString()
	acks := make(chan json.RawMessage, 1)
	c, err := meshsocket.New(opts)
	if err != nil {
		return err
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
		return explain(err, opts.Token)
	}
	var payload any = map[string]any{"msg_type": "cmd", "target": pos[1], "value": value, "_cmd": cmdID, "_from": c.Name()}
	if rm != nil {
		if payload, err = rm.r.SealJSON(payload); err != nil {
			return err
		}
	}
	if err := c.Send(sctx, "broadcast_request", payload); err != nil {
		return fmt.Errorf("set %s: %w", pos[1], err)
	}
	var raw json.RawMessage
	select {
	case raw = <-acks:
	case <-sctx.Done():
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("no command_ack for %s within %v (is a meshbox bridge on channel %s?)", pos[1], cf.timeout, opts.Channel)
	}
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
		fmt.Fprintf(env.Stdout, "ok: %s = %s\n", pos[1], pos[2])
	}
	if !ack.OK {
		reason := ack.Error
		if reason == "" {
			reason = "no reason given"
		}
		return fmt.Errorf("%s: %w: %s", pos[1], ErrRefused, reason)
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
