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
	ctx, stop := signalContext(context.Background())
	defer stop()
	env := &Env{Args: os.Args[1:], Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := run(ctx, env); err != nil {
		fmt.Fprintln(os.Stderr, "meshbox:", err)
		os.Exit(exitCode(err))
	}
}

// stopSignals end meshbox through its normal shutdown (outputs to their
// exit states, WebSockets closed with 1001). SIGTERM and SIGINT are a
// deliberate stop (exit 0); SIGHUP, SIGQUIT and SIGABRT (the systemd
// watchdog's) cancel with a signalError, so meshbox exits 128+signal and
// systemd's Restart=on-failure starts it again.
var stopSignals = []os.Signal{syscall.SIGTERM, os.Interrupt, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGABRT}

// signalContext is cancelled by the first stop signal; after it the
// signals have their default effect again (a second Ctrl-C kills).
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, stopSignals...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case sig := <-ch:
			signal.Stop(ch)
			if sig == syscall.SIGTERM || sig == os.Interrupt {
				cancel(context.Canceled)
			} else {
				cancel(signalError{sig.(syscall.Signal)})
			}
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
		<-done
	}
}

// signalError is how serving ended on SIGHUP, SIGQUIT or SIGABRT.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string {
	return fmt.Sprintf("stopped by %s (outputs in their exit states; exit %d so systemd restarts meshbox)", signalName(e.sig), 128+int(e.sig))
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGABRT:
		return "SIGABRT (the systemd watchdog)"
	}
	return s.String()
}
