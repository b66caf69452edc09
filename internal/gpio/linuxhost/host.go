package linuxhost

import (
	"log/slog"
	"time"
)

// Options configures a Host.
type Options struct {
	// Logger receives driver initialisation results and line claims
	// (discarded when nil).
	Logger *slog.Logger
	// PWMRoot is the PWM class directory (DefaultPWMRoot when empty); tests
	// point it at a fake tree.
	PWMRoot string
	// ExportWait bounds the wait for a freshly exported PWM channel to become
	// writable (default 2 s).
	ExportWait time.Duration
	// Consumer labels our GPIO line requests (default "meshbox").
	Consumer string
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PWMRoot == "" {
		o.PWMRoot = DefaultPWMRoot
	}
	if o.ExportWait <= 0 {
		o.ExportWait = 2 * time.Second
	}
	if o.Consumer == "" {
		o.Consumer = "meshbox"
	}
}
