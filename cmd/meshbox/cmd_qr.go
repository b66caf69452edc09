package main

// Owned by the pairing helper. Placeholder until implemented.

import (
	"context"
	"errors"
)

func qrCmd(ctx context.Context, env *Env, args []string) error {
	return errors.New("not implemented yet")
}
