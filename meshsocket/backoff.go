package meshsocket

import (
	"math/rand/v2"
	"time"
)

// backoff is the reconnect delay: min doubling to max, each delay jittered
// by ±20 % (never above max). Owned by the supervisor goroutine.
type backoff struct {
	min, max, cur time.Duration
	rand          func() float64 // [0,1)
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, cur: min, rand: rand.Float64}
}

// reset starts again from min (a transport opened, §12.1).
func (b *backoff) reset() { b.cur = b.min }

// next returns the delay before the next attempt and doubles the base.
func (b *backoff) next() time.Duration {
	d := b.cur
	b.cur = min(b.cur*2, b.max)
	j := time.Duration(float64(d) * (0.8 + 0.4*b.rand()))
	return min(j, b.max)
}
