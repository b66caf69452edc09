// Command meshbox runs the MeshSocket relay and the hardware bridge in one
// process, and carries the tools around them (client commands, config check,
// pairing QR, updates). See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{Args: os.Args[1:], Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := run(ctx, env); err != nil {
		fmt.Fprintln(os.Stderr, "meshbox:", err)
		os.Exit(exitCode(err))
	}
}
