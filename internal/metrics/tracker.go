package metrics

import (
	"sort"
	"sync"
	"time"
)

// minStale is the shortest time without a reading after which a sensor is
// stale (3 intervals otherwise).
const minStale = 30 * time.Second

// Tracker follows the bridge's readings, sensor errors and state changes
// and exposes them as families (Families). Its methods are safe for
// concurrent use and never block.
type Tracker struct {
	// Immutable after NewTracker.
	lay      Layout
	fields   map[string]FieldInfo // by field id
	pwm      map[string]bool      // output id -> PWM
	snapshot func() map[string]any
	now      func() time.Time

	mu      sync.Mutex
	sources map[string]*source
	outputs map[string]*onTime
}

type source struct {
	interval     time.Duration
	reads, fails uint64
	lastRead     time.Time
	failing      bool           // the last event was an error
	values       map[string]any // field id -> newest value
}

// onTime accumulates how long an output was on.
type onTime struct {
	on    bool
	since time.Time
	total time.Duration
}

// NewTracker follows lay; snapshot returns the bridge's current control
// values (outputs and inputs are read from it at scrape time); now is the
// clock (time.Now when nil).
func NewTracker(lay Layout, snapshot func() map[string]any, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	t := &Tracker{
		lay: lay, snapshot: snapshot, now: now,
		fields:  map[string]FieldInfo{},
		pwm:     map[string]bool{},
		sources: map[string]*source{},
		outputs: map[string]*onTime{},
	}
	for _, f := range lay.Fields {
		t.fields[f.ID] = f
	}
	for _, s := range lay.Sensors {
		t.sources[s.ID] = &source{interval: s.Interval, values: map[string]any{}}
	}
	var snap map[string]any
	if snapshot != nil {
		snap = snapshot()
	}
	start := now()
	for _, o := range lay.Outputs {
		t.pwm[o.ID] = o.PWM
		t.outputs[o.ID] = &onTime{on: isOn(snap[o.ID]), since: start}
	}
	return t
}

func (t *Tracker) sourceLocked(id string) *source {
	s := t.sources[id]
	if s == nil { // a source the layout does not list: never stale
		s = &source{values: map[string]any{}}
		t.sources[id] = s
	}
	return s
}

// Reading records one reading of source (a metrics event). fields is
// only read.
func (t *Tracker) Reading(src string, fields map[string]any, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sourceLocked(src)
	s.reads++
	s.failing = false
	s.lastRead = at
	for k, v := range fields {
		s.values[k] = v
	}
}

// Failed records a failed read of source (a sensor_error event).
func (t *Tracker) Failed(src string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sourceLocked(src)
	s.fails++
	s.failing = true
}

// State records a control's new value (a state event); outputs
// accumulate their on-time.
func (t *Tracker) State(id string, v any, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.outputs[id]
	if o == nil {
		return
	}
	on := isOn(v)
	switch {
	case on && !o.on:
		o.since = at
	case !on && o.on:
		if d := at.Sub(o.since); d > 0 {
			o.total += d
		}
	}
	o.on = on
}

// isOn: true, or a PWM duty above 0.
func isOn(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case float64:
		return x > 0
	}
	return false
}

// up reports whether s has a fresh, successful reading.
func (s *source) up(now time.Time) bool {
	if s.reads == 0 || s.failing {
		return false
	}
	if s.interval > 0 && now.Sub(s.lastRead) > max(3*s.interval, minStale) {
		return false
	}
	return true
}

func (t *Tracker) sortedSources() []string {
	ids := make([]string, 0, len(t.sources))
	for id := range t.sources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Families returns the tracker's families: sensor status, values in base
// units, outputs and inputs.
func (t *Tracker) Families() []Family {
	fs := []Family{
		{Name: "meshbox_sensor_up", Type: Gauge,
			Help: "1 while the sensor or serial device reports fresh readings; 0 when its last read failed, it is stale (3 intervals, at least 30 s, without a reading) or it has not reported yet.",
			Collect: func(emit Emit) {
				t.eachSource(func(id string, s *source, now time.Time) { emit(b2f(s.up(now)), "sensor", id) })
			}},
		{Name: "meshbox_sensor_reads_total", Type: Counter, Help: "Readings received, per sensor or serial device.",
			Collect: func(emit Emit) {
				t.eachSource(func(id string, s *source, _ time.Time) { emit(float64(s.reads), "sensor", id) })
			}},
		{Name: "meshbox_sensor_read_errors_total", Type: Counter, Help: "Failed reads (or opens), per sensor or serial device.",
			Collect: func(emit Emit) {
				t.eachSource(func(id string, s *source, _ time.Time) { emit(float64(s.fails), "sensor", id) })
			}},
		{Name: "meshbox_sensor_last_reading_timestamp_seconds", Type: Gauge, Help: "Unix time of the last successful reading, per sensor or serial device.",
			Collect: func(emit Emit) {
				t.eachSource(func(id string, s *source, _ time.Time) {
					if s.reads > 0 {
						emit(float64(s.lastRead.UnixMilli())/1000, "sensor", id)
					}
				})
			}},
		{Name: "meshbox_sensor_value", Type: Gauge, Help: "Sensor and serial fields without a base-unit metric, in their configured unit (booleans as 0/1).",
			Collect: func(emit Emit) { t.values("", emit) }},
	}
	for _, q := range quantities() {
		fam := q.family
		fs = append(fs, Family{Name: fam, Type: Gauge, Help: q.help, Collect: func(emit Emit) { t.values(fam, emit) }})
	}
	fs = append(fs,
		Family{Name: "meshbox_output_on", Type: Gauge, Help: "1 while the output is on (a PWM output with a duty above 0).",
			Collect: func(emit Emit) {
				snap := t.snap()
				for _, o := range t.lay.Outputs {
					if v, ok := snap[o.ID]; ok && v != nil {
						emit(b2f(isOn(v)), "output", o.ID)
					}
				}
			}},
		Family{Name: "meshbox_output_duty_ratio", Type: Gauge, Help: "PWM duty cycle (0-1).",
			Collect: func(emit Emit) {
				snap := t.snap()
				for _, o := range t.lay.Outputs {
					if d, ok := snap[o.ID].(float64); ok && o.PWM {
						emit(d/100, "output", o.ID)
					}
				}
			}},
		Family{Name: "meshbox_output_on_seconds_total", Type: Counter, Help: "Time the output has been on since the box started (relay wear, energy).",
			Collect: func(emit Emit) {
				t.mu.Lock()
				defer t.mu.Unlock()
				now := t.now()
				for _, o := range t.lay.Outputs {
					ot := t.outputs[o.ID]
					d := ot.total
					if ot.on && now.After(ot.since) {
						d += now.Sub(ot.since)
					}
					emit(d.Seconds(), "output", o.ID)
				}
			}},
		Family{Name: "meshbox_input_active", Type: Gauge, Help: "1 while the input is active.",
			Collect: func(emit Emit) {
				snap := t.snap()
				for _, id := range t.lay.Inputs {
					if v, ok := snap[id].(bool); ok {
						emit(b2f(v), "input", id)
					}
				}
			}},
	)
	return fs
}

func (t *Tracker) snap() map[string]any {
	if t.snapshot == nil {
		return nil
	}
	return t.snapshot()
}

// eachSource calls fn for every source in id order, under the lock.
func (t *Tracker) eachSource(fn func(id string, s *source, now time.Time)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, id := range t.sortedSources() {
		fn(id, t.sources[id], now)
	}
}

// values emits the fields of every up source that belong to family ("":
// meshbox_sensor_value, the fields without a base unit).
func (t *Tracker) values(family string, emit Emit) {
	t.eachSource(func(id string, s *source, now time.Time) {
		if !s.up(now) {
			return // no frozen values
		}
		keys := make([]string, 0, len(s.values))
		for k := range s.values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var v float64
			switch x := s.values[k].(type) {
			case float64:
				v = x
			case bool:
				v = b2f(x)
			default:
				continue // text
			}
			info := t.fields[k]
			fam, conv, ok := baseUnit(info.Unit)
			switch {
			case ok && fam == family:
				emit(convert(conv, v, info.Resolution), "sensor", id, "field", k)
			case !ok && family == "":
				emit(v, "sensor", id, "field", k, "unit", info.Unit)
			}
		}
	})
}
