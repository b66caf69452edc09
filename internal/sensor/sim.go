package sensor

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/sensor/drift"
)

func simFields() []FieldInfo {
	return []FieldInfo{
		{"temperature", "°C", 15, 30, 0.01},
		{"humidity", "%RH", 25, 70, 0.1},
		{"pressure", "hPa", 980, 1040, 0.1},
		{"lux", "lx", 0, 2000, 1},
	}
}

// Sim is a simulated climate sensor that needs no hardware: its values
// drift plausibly over time (see package drift).
type Sim struct {
	mu   sync.Mutex
	name string
	env  *drift.Env
}

// NewSim returns a simulated sensor; name seeds its walk, so two sensors with
// different names drift differently. now is the clock (time.Now when nil).
func NewSim(name string, now func() time.Time) *Sim {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return &Sim{name: name, env: drift.New(h.Sum64(), now, drift.Climate()...)}
}

func (s *Sim) String() string { return "sim:" + s.name }
func (s *Sim) Close() error   { return nil }

// Fields lists temperature, humidity, pressure and lux.
func (s *Sim) Fields() []FieldInfo { return simFields() }

// Env exposes the walk so tests can step or script it.
func (s *Sim) Env() *drift.Env { return s.env }

// Read returns the current values.
func (s *Sim) Read(ctx context.Context) (map[string]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.env.Values(), nil
}
