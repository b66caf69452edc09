package sensor

import (
	"context"
	"fmt"
	"sync"

	"github.com/meshbox/meshbox/internal/gpio"
)

// sysfsFile is a sensor that is one kernel file holding one number
// (a thermal zone, a w1_therm slave), read through the host.
type sysfsFile struct {
	mu   sync.Mutex
	host gpio.Host
	path string
}

// read reads the file once (one read at a time) and parses it; errors
// are prefixed with the driver's name.
func (f *sysfsFile) read(ctx context.Context, name fmt.Stringer, parse func([]byte) (float64, error)) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b, err := f.host.ReadFile(f.path)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	v, err := parse(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}
