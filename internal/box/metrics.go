package box

import (
	"sync"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/page"
)

// eventCounters counts sensor readings and read errors per source, from
// the bridge's metrics and sensor_error events.
type eventCounters struct {
	mu     sync.Mutex
	reads  map[string]uint64    // guarded by mu
	errors map[string]uint64    // guarded by mu
	sub    *bridge.Subscription // guarded by mu (set by run)
}

func newEventCounters() *eventCounters {
	return &eventCounters{reads: map[string]uint64{}, errors: map[string]uint64{}}
}

// run counts until sub is closed.
func (c *eventCounters) run(sub *bridge.Subscription) {
	c.mu.Lock()
	c.sub = sub
	c.mu.Unlock()
	for ev := range sub.C() {
		c.mu.Lock()
		switch ev.Kind {
		case bridge.EventMetrics:
			c.reads[ev.Source]++
		case bridge.EventSensorError:
			c.errors[ev.Source]++
		}
		c.mu.Unlock()
	}
}

type pushCounters struct {
	mu                   sync.Mutex
	ok, refused, timeout uint64
}

func (p *pushCounters) add(r layout.PushResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case r.OK:
		p.ok++
	case r.Timeout:
		p.timeout++
	default:
		p.refused++
	}
}

// collectMetrics returns the samples for /metrics.
func (b *Box) collectMetrics() []page.Metric {
	bc, pc := b.page.counters, b.page.pushes
	var ms []page.Metric
	add := func(name, help, typ string, v float64, labels ...string) {
		m := page.Metric{Name: name, Help: help, Type: typ, Value: v}
		for i := 0; i+1 < len(labels); i += 2 {
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels[labels[i]] = labels[i+1]
		}
		ms = append(ms, m)
	}
	add("meshbox_build_info", "The running meshbox version (always 1).", "gauge", 1, "version", b.opts.Version)
	sim := 0.0
	if b.hw.sim != nil {
		sim = 1
	}
	add("meshbox_simulated_hardware", "1 when the outputs and sensors are simulated (-sim or no GPIO chip).", "gauge", sim)
	{
		st := b.relay.Stats()
		add("meshbox_relay_connections", "Open relay connections (sockets and pipes).", "gauge", float64(st.Connections))
		add("meshbox_relay_members", "Identified relay members.", "gauge", float64(st.Members))
		add("meshbox_relay_pending", "Connections not yet identified.", "gauge", float64(st.Pending))
		add("meshbox_relay_accepted_total", "Connections admitted.", "counter", float64(st.Accepted))
		add("meshbox_relay_rejected_total", "Connections refused (caps, origin, token, grammar).", "counter", float64(st.Rejected))
		add("meshbox_relay_frames_in_total", "Frames read by the relay.", "counter", float64(st.FramesIn))
		add("meshbox_relay_frames_out_total", "Frames written by the relay.", "counter", float64(st.FramesOut))
		add("meshbox_relay_dropped_total", "Frames not delivered.", "counter", float64(st.Dropped))
		add("meshbox_relay_reaped_total", "Slow consumers closed.", "counter", float64(st.Reaped))
		add("meshbox_relay_rate_limited_total", "Connections closed by the rate limit.", "counter", float64(st.RateLimited))
		add("meshbox_relay_route_timeouts_total", "route_msg requests that timed out.", "counter", float64(st.RouteTimeouts))
	}
	{
		st := b.hw.bridge.Stats()
		add("meshbox_bridge_sensor_reads_total", "Successful sensor readings.", "counter", float64(st.SensorReads))
		add("meshbox_bridge_sensor_errors_total", "Failed sensor opens or reads.", "counter", float64(st.SensorErrors))
		bc.mu.Lock()
		for _, sc := range b.cfg.Sensors {
			add("meshbox_sensor_reads_total", "Readings published, per sensor.", "counter", float64(bc.reads[sc.ID]), "sensor", sc.ID)
		}
		for _, sc := range b.cfg.Sensors {
			add("meshbox_sensor_read_errors_total", "Read errors, per sensor.", "counter", float64(bc.errors[sc.ID]), "sensor", sc.ID)
		}
		for _, d := range b.cfg.Serial {
			add("meshbox_sensor_read_errors_total", "Read errors, per sensor.", "counter", float64(bc.errors[d.ID]), "sensor", d.ID)
		}
		var dropped uint64
		if bc.sub != nil {
			dropped = bc.sub.Dropped()
		}
		bc.mu.Unlock()
		add("meshbox_events_dropped_total", "Bridge events a subscriber fell behind on.", "counter", float64(dropped), "subscriber", "page")
		if b.member != nil {
			add("meshbox_events_dropped_total", "Bridge events a subscriber fell behind on.", "counter", float64(b.member.Dropped()), "subscriber", "relay member")
		}
		for _, o := range b.cfg.Outputs {
			add("meshbox_output_switches_total", "Output changes driven, per output.", "counter", float64(st.OutputSwitches[o.ID]), "output", o.ID)
		}
		add("meshbox_bridge_commands_total", "Commands handled.", "counter", float64(st.CommandsOK), "result", "ok")
		add("meshbox_bridge_commands_total", "Commands handled.", "counter", float64(st.CommandsFailed), "result", "failed")
		add("meshbox_bridge_rate_limited_total", "Commands refused by the actuation rate limit.", "counter", float64(st.RateLimited))
		add("meshbox_bridge_hardware_errors_total", "Failed output writes.", "counter", float64(st.HardwareErrors))
		add("meshbox_bridge_input_edges_total", "Debounced input changes.", "counter", float64(st.InputEdges))
		add("meshbox_bridge_serial_lines_total", "Serial lines parsed.", "counter", float64(st.SerialLines))
	}
	open := 0.0
	if b.window.IsOpen() {
		open = 1
	}
	add("meshbox_pairing_open", "1 while the pairing window is open.", "gauge", open)
	pc.mu.Lock()
	add("meshbox_layout_pushes_total", "apply-layout pushes by outcome.", "counter", float64(pc.ok), "result", "ok")
	add("meshbox_layout_pushes_total", "apply-layout pushes by outcome.", "counter", float64(pc.refused), "result", "refused")
	add("meshbox_layout_pushes_total", "apply-layout pushes by outcome.", "counter", float64(pc.timeout), "result", "timeout")
	pc.mu.Unlock()
	return ms
}
