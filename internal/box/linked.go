package box

import (
	"context"
	"encoding/json"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/layout"
)

// Many boxes, one dashboard (issue #19, docs/many-boxes.md): the layout
// a hub gives its phones and its page holds a tab per linked box, from the
// tabs the box announces; a linked box announces its own layout's tabs,
// ids prefixed as on its upstream link.

// linkedTabs is what this box announces on its upstream link: its own
// layout's tabs with every id prefixed.
func (ps *pageState) linkedTabs(prefix string) json.RawMessage {
	ps.mu.Lock()
	base := ps.base
	ps.mu.Unlock()
	raw, err := json.Marshal(layout.PrefixTabs(base.Tabs, prefix))
	if err != nil {
		return nil
	}
	return raw
}

// followLinked merges the linked boxes into the layout whenever the
// bridge says they changed (EventLinked), until ctx is done. The pusher
// sees a new layout version and pushes it to every phone.
func (ps *pageState) followLinked(ctx context.Context, br *bridge.Bridge) {
	sub := br.Subscribe("page linked boxes", bridge.SubscribeOptions{Kinds: []bridge.EventKind{bridge.EventLinked}, Queue: 4})
	defer sub.Close()
	type key struct{ name, v string }
	parsed := map[key][]layout.Tab{} // by box and layout version: parse and warn once
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-sub.C():
			if !ok {
				return
			}
		}
		var linked []layout.Linked
		for _, lb := range br.LinkedBoxes() {
			k := key{lb.Name, lb.V}
			tabs, seen := parsed[k]
			if !seen && lb.Tabs != nil {
				t, err := layout.LinkedTabs(lb.Tabs, lb.Prefix)
				if err != nil {
					ps.log.Warn("layout: a linked box's tabs are refused; its controls are not shown", "box", lb.Name, "err", err)
				}
				tabs, parsed[k] = t, t
			}
			if tabs != nil {
				linked = append(linked, layout.Linked{Name: lb.Name, Available: lb.Available, Tabs: tabs})
			}
		}
		if len(parsed) > 4*bridge.MaxLinked { // old versions: forget them
			clear(parsed)
		}
		ps.mu.Lock()
		ps.linked = linked
		err := ps.mergeLocked()
		ps.mu.Unlock()
		if err != nil {
			ps.log.Warn("layout: the merged layout breaks a schema rule; showing this box's controls only", "err", err)
		}
	}
}

// mergeLocked sets the layout from base and the linked boxes; a merge that
// breaks a schema rule (the error) falls back to the box's own layout.
// Called with ps.mu held.
func (ps *pageState) mergeLocked() error {
	l := layout.Merge(ps.base, ps.linked)
	var err error
	if l != ps.base {
		if err = layout.ValidateLayout(l, nil); err != nil {
			l = ps.base
		}
	}
	ps.layout = l
	return err
}
