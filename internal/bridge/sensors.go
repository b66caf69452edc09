package bridge

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/filter"
	"github.com/meshbox/meshbox/internal/sensor"
)

const (
	maxRetry = time.Minute
)

type sensorRunner struct {
	cfg     config.Sensor // immutable
	filters filter.Set    // the fields' filter chains (owned by runSensor)
}

// runSensor opens the sensor and publishes a metrics frame per interval.
// Failures (open or read) are logged, published as sensor_error, and retried
// with exponential backoff; the sensor is reopened after a failure.
func (b *Bridge) runSensor(ctx context.Context, s *sensorRunner) {
	interval := orDefault(s.cfg.Interval, config.DefaultInterval)
	bo := newBackoff(interval, max(interval, maxRetry))
	var r SensorReader
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	fail := func(err error) bool {
		b.stats.sensorErrors.Add(1)
		d := bo.next()
		b.log.Warn("sensor failed", "sensor", s.cfg.ID, "driver", s.cfg.Driver, "err", err, "retry", d)
		b.sensorError(s.cfg.ID, err, d)
		if r != nil {
			r.Close()
			r = nil
		}
		return sleepCtx(ctx, d) == nil
	}
	next := time.Now()
	for ctx.Err() == nil {
		if r == nil {
			var err error
			r, err = b.opts.OpenSensor(b.host, s.cfg)
			if err != nil {
				r = nil
				if !fail(fmt.Errorf("open: %w", err)) {
					return
				}
				continue
			}
		}
		reading, err := r.Read(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !fail(err) {
				return
			}
			next = time.Now()
			continue
		}
		if bo.cur != 0 {
			b.log.Info("sensor recovered", "sensor", s.cfg.ID)
			bo.reset()
		}
		fields := SensorMetrics(s.cfg, reading)
		s.filters.Apply(time.Now(), fields)
		b.stats.sensorReads.Add(1)
		if len(fields) > 0 {
			b.recordReading(s.cfg.ID, fields)
		}
		next = next.Add(interval)
		if now := time.Now(); next.Before(now) {
			next = now.Add(interval)
		}
		if sleepCtx(ctx, time.Until(next)) != nil {
			return
		}
	}
}

// sensorError publishes a failed read of source, retried after retry.
func (b *Bridge) sensorError(source string, err error, retry time.Duration) {
	b.pub.emit(Event{Kind: EventSensorError, Source: source, Err: err.Error(), RetryMs: retry.Milliseconds()})
}

// SensorMetrics maps one driver reading to metric keys: with no configured
// fields every driver field becomes "<id>_<field>"; otherwise each
// configured field takes its Source (default: its Name) from the reading,
// times Scale (default 1) plus Offset. Values are rounded to the driver
// field's resolution (scaled too; FieldResolution). Non-finite values are
// dropped.
func SensorMetrics(s config.Sensor, reading map[string]float64) map[string]any {
	out := make(map[string]any, len(reading))
	if len(s.Fields) == 0 {
		for k, v := range reading {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				out[s.ID+"_"+k] = sensor.Round(v, sensor.Resolution(s.Driver, k))
			}
		}
		return out
	}
	for _, f := range s.Fields {
		src := f.Source
		if src == "" {
			src = f.Name
		}
		v, ok := reading[src]
		if !ok {
			continue
		}
		v = scaled(f, v)
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[f.Name] = sensor.Round(v, FieldResolution(s.Driver, f))
		}
	}
	return out
}

// FieldResolution is the resolution of a configured sensor field: the
// driver field's, times |Scale|.
func FieldResolution(driver string, f config.Field) float64 {
	src := f.Source
	if src == "" {
		src = f.Name
	}
	r := sensor.Resolution(driver, src)
	if f.Scale != 0 {
		r *= math.Abs(f.Scale)
	}
	return r
}

func scaled(f config.Field, v float64) float64 {
	if f.Scale != 0 {
		v *= f.Scale
	}
	return v + f.Offset
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
