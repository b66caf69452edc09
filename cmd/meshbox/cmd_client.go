package main

// Owned by the client engineer: the MeshSocket client commands. The work is
// in internal/cli (on top of package meshsocket).

import (
	"context"
	"errors"
	"fmt"

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

// cliResult maps a client command's result to run's: -h prints the usage
// to stdout (exit 0), a command-line mistake becomes a usageError (exit 2).
func cliResult(env *Env, err error) error {
	var u *cli.UsageError
	if errors.As(err, &u) && u.Help {
		fmt.Fprintln(env.Stdout, u.Msg)
		return nil
	}
	return cliErr(err)
}

func sendCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, cli.Send(ctx, cliIO(env), args))
}

func requestCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, cli.Request(ctx, cliIO(env), args))
}

func listenCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, cli.Listen(ctx, cliIO(env), args))
}

func nodesCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, cli.Nodes(ctx, cliIO(env), args))
}

func setCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, cli.Set(ctx, cliIO(env), args))
}

func simCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, cli.Sim(ctx, cliIO(env), args))
}
