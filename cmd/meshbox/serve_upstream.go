package main

// Owned by the integration engineer: the upstream: section of serve, and
// addLinks, the one hook serve.go's addComponents calls after the bridge.

import (
	"context"

	"github.com/meshbox/meshbox/internal/links"
)

// addLinks adds the links beyond this box (mqtt:, upstream:); each is
// optional.
func (b *box) addLinks() error {
	if err := b.addMQTT(); err != nil {
		return err
	}
	return b.addUpstream()
}

// addUpstream adds the upstream relay link as a component when the config
// has an upstream: section: the bridge joins that relay too, as
// "<upstream.name>" with its control ids prefixed "<upstream.name>." (see
// package links), and reconnects with backoff.
func (b *box) addUpstream() error {
	if b.hw == nil {
		return nil
	}
	up, ok := links.UpstreamFromConfig(b.hw.bridge.Config())
	if !ok {
		return nil
	}
	if err := up.Check(); err != nil {
		return err
	}
	b.components = append(b.components, component{name: "upstream", run: func(ctx context.Context) error {
		stop, err := links.JoinUpstream(b.hw.bridge, up, b.log)
		if err != nil {
			return err
		}
		<-ctx.Done()
		stop()
		return nil
	}})
	return nil
}
