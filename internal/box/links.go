package box

import (
	"context"
	"fmt"
	"sync"

	"github.com/meshbox/meshbox/internal/links"
)

// startMQTT runs the MQTT link (states, commands, Home Assistant
// discovery) when the config has an mqtt: section. A bad TLS file stops
// the box before it serves; an unreachable broker is retried in the
// background without ever blocking the relay or the bridge.
func (b *Box) startMQTT(ctx context.Context) (func(), error) {
	if b.cfg.MQTT == nil {
		return nil, nil
	}
	link, err := links.NewMQTT(b.hw.bridge, b.log, nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := link.Run(ctx); err != nil && ctx.Err() == nil {
			b.fail(fmt.Errorf("mqtt: %w", err))
		}
	}()
	return func() { cancel(); wg.Wait() }, nil
}

// startUpstream joins the upstream relay when the config has an upstream:
// section: the bridge becomes a member there too, as "<upstream.name>"
// with its control ids prefixed "<upstream.name>." (see package links),
// and reconnects with backoff until stopped.
func (b *Box) startUpstream(context.Context) (func(), error) {
	up, ok := links.UpstreamFromConfig(b.cfg)
	if !ok {
		return nil, nil
	}
	up.Cipher = b.room.cipher() // an encrypted room: only envelopes go upstream
	if up.Prefix != "" {
		up.Tabs = b.page.linkedTabs(up.Prefix) // the hub shows this box's controls
	}
	stop, err := links.JoinUpstream(b.hw.bridge, up, b.log)
	if err != nil {
		return nil, err
	}
	return stop, nil
}
