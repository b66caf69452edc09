package sensor

import (
	"context"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.6f, want %.6f ±%g", what, got, want, tol)
	}
}

// play returns a playback bus that reports mismatches as errors, and checks
// at the end of the test that every expected transaction happened.
func play(t *testing.T, ops ...i2ctest.IO) *i2ctest.Playback {
	t.Helper()
	p := &i2ctest.Playback{Ops: ops, DontPanic: true}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}
