package main

// Owned by the integration engineer: the mqtt: section of serve. addLinks
// (serve_upstream.go) calls addMQTT after the bridge exists.

import (
	"context"

	"github.com/meshbox/meshbox/internal/links"
)

// addMQTT adds the MQTT link (states, commands, Home Assistant discovery)
// as a component when the config has an mqtt: section. A bad TLS file
// stops serve before it listens; an unreachable broker is retried in the
// background without ever blocking the relay or the bridge.
func (b *box) addMQTT() error {
	if b.cfg.MQTT == nil || b.hw == nil {
		return nil
	}
	link, err := links.NewMQTT(b.hw.bridge, b.log, nil)
	if err != nil {
		return err
	}
	b.components = append(b.components, component{name: "mqtt", run: func(ctx context.Context) error {
		return link.Run(ctx)
	}})
	return nil
}
