package links

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/mqttlink"
)

// NewMQTT prepares the MQTT link of b's config (nil without an mqtt:
// section); drive it with Run. tweak, when not nil, adjusts the options
// (tests: backoff).
func NewMQTT(b *bridge.Bridge, log *slog.Logger, tweak func(*mqttlink.Options)) (*mqttlink.Link, error) {
	cfg := b.Config()
	if cfg.MQTT == nil {
		return nil, nil
	}
	o, err := mqttlink.FromConfig(cfg.MQTT, cfg.Name, cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	if tweak != nil {
		tweak(&o)
	}
	return mqttlink.New(o, Hub{b}, Controls(cfg), log), nil
}

// StartMQTT is NewMQTT, then Run in the background; stop publishes
// "offline" and disconnects.
func StartMQTT(b *bridge.Bridge, log *slog.Logger, tweak func(*mqttlink.Options)) (link *mqttlink.Link, stop func(), err error) {
	l, err := NewMQTT(b, log, tweak)
	if err != nil || l == nil {
		return nil, func() {}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := l.Run(ctx); err != nil {
			log.Error("mqtt link stopped", "err", err)
		}
	}()
	return l, func() { cancel(); wg.Wait() }, nil
}
