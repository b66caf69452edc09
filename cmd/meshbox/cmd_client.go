package main

// Owned by the client helper. Placeholder until implemented.

import (
	"context"
	"errors"
)

func sendCmd(ctx context.Context, env *Env, args []string) error {
	return errors.New("not implemented yet")
}
func requestCmd(ctx context.Context, env *Env, args []string) error {
	return errors.New("not implemented yet")
}
func listenCmd(ctx context.Context, env *Env, args []string) error {
	return errors.New("not implemented yet")
}
func nodesCmd(ctx context.Context, env *Env, args []string) error {
	return errors.New("not implemented yet")
}
