package main

// The administration commands; the work is in internal/admin. Each maps its
// result as the client commands do (cliResult): a *cli.UsageError is exit 2.

import (
	"context"

	"github.com/meshbox/meshbox/internal/admin"
)

func checkCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, admin.Check(ctx, cliIO(env), args))
}

func pinsCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, admin.Pins(ctx, cliIO(env), args))
}

func configTxtCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, admin.ConfigTxt(ctx, cliIO(env), args))
}

func pairCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, admin.Pair(ctx, cliIO(env), args))
}

func qrCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, admin.QR(ctx, cliIO(env), args))
}

func tokensCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, admin.Tokens(ctx, cliIO(env), args))
}

func ownerTokenCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, admin.OwnerToken(ctx, cliIO(env), args))
}

func updateCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, admin.Update(ctx, cliIO(env), version, args))
}

func keygenCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, admin.Keygen(ctx, cliIO(env), args))
}

func signCmd(ctx context.Context, env *Env, args []string) error {
	return cliResult(env, admin.Sign(ctx, cliIO(env), args))
}
