package mqttlink

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// fakeHub is an in-memory bridge: Apply stores the value and notifies
// subscribers, like the real bridge's state echo.
type fakeHub struct {
	mu      sync.Mutex
	values  map[string]any
	subs    map[int]func(string, any)
	next    int
	applied []string
	refused map[string]error // target -> the error Apply returns
}

func newFakeHub(values map[string]any) *fakeHub {
	return &fakeHub{values: values, subs: map[int]func(string, any){}}
}

func (h *fakeHub) Snapshot() map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[string]any, len(h.values))
	for k, v := range h.values {
		m[k] = v
	}
	return m
}

func (h *fakeHub) Subscribe(fn func(string, any)) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	h.subs[id] = fn
	return func() {
		h.mu.Lock()
		delete(h.subs, id)
		h.mu.Unlock()
	}
}

func (h *fakeHub) Apply(_ context.Context, target string, v any, from string) (any, error) {
	h.mu.Lock()
	if _, ok := h.values[target]; !ok {
		h.mu.Unlock()
		return nil, fmt.Errorf("unknown target %q", target)
	}
	if err := h.refused[target]; err != nil {
		h.mu.Unlock()
		return nil, err
	}
	h.applied = append(h.applied, fmt.Sprintf("%s=%v from %s", target, v, from))
	h.mu.Unlock()
	h.set(target, v)
	return v, nil
}

// set changes a value as hardware would and notifies subscribers.
func (h *fakeHub) set(id string, v any) {
	h.mu.Lock()
	h.values[id] = v
	subs := make([]func(string, any), 0, len(h.subs))
	for _, fn := range h.subs {
		subs = append(subs, fn)
	}
	h.mu.Unlock()
	for _, fn := range subs {
		fn(id, v)
	}
}

// refuse makes Apply refuse target with reason (an interlock, a rate
// limit...).
func (h *fakeHub) refuse(target, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refused == nil {
		h.refused = map[string]error{}
	}
	h.refused[target] = errors.New(reason)
}

func (h *fakeHub) appliedList() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.applied...)
}
