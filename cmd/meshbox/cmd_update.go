package main

// Owned by the appliance helper. Placeholder until implemented.

import (
	"context"
	"errors"
)

func updateCmd(ctx context.Context, env *Env, args []string) error {
	return errors.New("not implemented yet")
}
