package main

// Owned by the relay helper (later: bridge, page, appliance hooks). Placeholder until implemented.

import (
	"context"
	"errors"
)

func serveCmd(ctx context.Context, env *Env, args []string) error {
	return errors.New("not implemented yet")
}
