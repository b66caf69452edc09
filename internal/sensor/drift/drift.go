package drift

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Spec describes one simulated quantity.
type Spec struct {
	Name     string
	Min, Max float64 // hard bounds
	Start    float64 // initial value (and the mean it reverts to)
	Sigma    float64 // standard deviation of one step (one simulated second)
}

// Env holds a set of quantities that drift together. It is safe for
// concurrent use.
type Env struct {
	mu    sync.Mutex
	rng   *rand.Rand
	now   func() time.Time
	last  time.Time
	specs []Spec
	vals  map[string]float64
}

// maxCatchUp bounds the steps taken to catch up after a long pause.
const maxCatchUp = 600

// New returns an Env seeded with seed; now is the clock (time.Now when nil).
// Values advance by one step per elapsed second of now.
func New(seed uint64, now func() time.Time, specs ...Spec) *Env {
	if now == nil {
		now = time.Now
	}
	e := &Env{rng: rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15)), now: now, last: now(), specs: specs, vals: map[string]float64{}}
	for _, s := range specs {
		e.vals[s.Name] = s.Start
	}
	return e
}

// Step advances every quantity by n steps.
func (e *Env) Step(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.step(n)
}

func (e *Env) step(n int) {
	for range n {
		for _, s := range e.specs {
			v := e.vals[s.Name]
			v += e.rng.NormFloat64()*s.Sigma + 0.02*(s.Start-v)
			e.vals[s.Name] = math.Min(s.Max, math.Max(s.Min, v))
		}
	}
}

func (e *Env) advance() {
	now := e.now()
	n := int(now.Sub(e.last) / time.Second)
	if n <= 0 {
		return
	}
	e.last = e.last.Add(time.Duration(n) * time.Second)
	e.step(min(n, maxCatchUp))
}

// Get advances to the clock's time and returns one value (0 if unknown).
func (e *Env) Get(name string) float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	return e.vals[name]
}

// Values advances to the clock's time and returns a copy of every value.
func (e *Env) Values() map[string]float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	m := make(map[string]float64, len(e.vals))
	for k, v := range e.vals {
		m[k] = v
	}
	return m
}

// Set forces a value (clamped to its bounds); tests use it to script readings.
func (e *Env) Set(name string, v float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.specs {
		if s.Name == name {
			e.vals[name] = math.Min(s.Max, math.Max(s.Min, v))
		}
	}
}

// Specs returns the quantities' descriptions.
func (e *Env) Specs() []Spec {
	return append([]Spec(nil), e.specs...)
}

// Climate returns specs for an indoor room: temperature °C, humidity %RH,
// pressure hPa, light lx.
func Climate() []Spec {
	return []Spec{
		{Name: "temperature", Min: 15, Max: 30, Start: 21.5, Sigma: 0.05},
		{Name: "humidity", Min: 25, Max: 70, Start: 45, Sigma: 0.2},
		{Name: "pressure", Min: 980, Max: 1040, Start: 1013.2, Sigma: 0.05},
		{Name: "lux", Min: 0, Max: 2000, Start: 320, Sigma: 8},
	}
}
