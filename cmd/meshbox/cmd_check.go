package main

// Owned by the config helper. Placeholder until implemented.

import (
	"context"
	"errors"
)

func checkCmd(ctx context.Context, env *Env, args []string) error {
	return errors.New("not implemented yet")
}
func pinsCmd(ctx context.Context, env *Env, args []string) error {
	return errors.New("not implemented yet")
}
