package main

// Owned by the client engineer: the MeshSocket client commands. The work is
// in internal/cli (on top of package meshsocket).

import (
	"context"
	"errors"

	"github.com/meshbox/meshbox/internal/cli"
)

func cliIO(env *Env) cli.IO {
	return cli.IO{Getenv: env.Getenv, Stdout: env.Stdout, Stderr: env.Stderr}
}

// cliErr maps a command-line mistake to usageError (exit code 2).
func cliErr(err error) error {
	var u *cli.UsageError
	if errors.As(err, &u) {
		return usageError(u.Msg)
	}
	return err
}

func sendCmd(ctx context.Context, env *Env, args []string) error {
	return cliErr(cli.Send(ctx, cliIO(env), args))
}

func requestCmd(ctx context.Context, env *Env, args []string) error {
	return cliErr(cli.Request(ctx, cliIO(env), args))
}

func listenCmd(ctx context.Context, env *Env, args []string) error {
	return cliErr(cli.Listen(ctx, cliIO(env), args))
}

func nodesCmd(ctx context.Context, env *Env, args []string) error {
	return cliErr(cli.Nodes(ctx, cliIO(env), args))
}
