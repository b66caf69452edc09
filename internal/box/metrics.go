package box

import (
	"context"
	"sync"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/metrics"
	"github.com/meshbox/meshbox/internal/relay"
)

// metricsState is the /metrics component: the registry every part of the
// box registers its families in, and the tracker fed by bridge events.
type metricsState struct {
	reg     *metrics.Registry
	tracker *metrics.Tracker

	mu  sync.Mutex
	sub *bridge.Subscription // guarded by mu (set by startMetrics)
}

// Metrics is the box's metric registry: a component registers its
// families (history store size, thermostats, automations) with
// Register; they are collected at every scrape of /metrics.
func (b *Box) Metrics() *metrics.Registry { return b.metrics.reg }

// newMetrics builds the registry with the box's own families and the
// tracker's (sensor values, outputs, inputs).
func (b *Box) newMetrics() {
	br := b.hw.bridge
	snapshot := func() map[string]any { _, m := br.Snapshot(); return m }
	ms := &metricsState{
		reg:     metrics.NewRegistry(b.log.With("component", "metrics")),
		tracker: metrics.NewTracker(metrics.LayoutOf(b.cfg), snapshot, nil),
	}
	b.metrics = ms
	ms.reg.MustRegister(ms.tracker.Families()...)
	ms.reg.MustRegister(b.boxFamilies()...)
	ms.reg.MustRegister(b.automationFamilies()...)
	ms.reg.MustRegister(b.e2eeFamilies()...)
}

// startMetrics feeds the tracker from the bridge's events.
func (b *Box) startMetrics(context.Context) (func(), error) {
	ms := b.metrics
	sub := b.hw.bridge.Subscribe("metrics", bridge.SubscribeOptions{Kinds: metrics.Kinds()})
	ms.mu.Lock()
	ms.sub = sub
	ms.mu.Unlock()
	done := make(chan struct{})
	go func() { defer close(done); ms.tracker.Run(sub) }()
	return func() { sub.Close(); <-done }, nil
}

func gauge(name, help string, collect func(metrics.Emit)) metrics.Family {
	return metrics.Family{Name: name, Help: help, Type: metrics.Gauge, Collect: collect}
}

func counter(name, help string, collect func(metrics.Emit)) metrics.Family {
	return metrics.Family{Name: name, Help: help, Type: metrics.Counter, Collect: collect}
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// boxFamilies are the counters about the box itself: build, relay,
// bridge, pairing, layout pushes, event subscribers.
func (b *Box) boxFamilies() []metrics.Family {
	br := b.hw.bridge
	relayStat := func(name, help string, typ metrics.Type, v func(s relay.Stats) uint64) metrics.Family {
		return metrics.Family{Name: name, Help: help, Type: typ, Collect: func(emit metrics.Emit) {
			emit(float64(v(b.relay.Stats())))
		}}
	}
	bridgeStat := func(name, help string, v func(s bridge.Stats) uint64) metrics.Family {
		return counter(name, help, func(emit metrics.Emit) { emit(float64(v(br.Stats()))) })
	}
	return []metrics.Family{
		gauge("meshbox_build_info", "The running meshbox version (always 1).", func(emit metrics.Emit) {
			emit(1, "version", b.opts.Version)
		}),
		gauge("meshbox_simulated_hardware", "1 when the outputs and sensors are simulated (-sim or no GPIO chip).", func(emit metrics.Emit) {
			emit(b2f(b.hw.sim != nil))
		}),
		relayStat("meshbox_relay_connections", "Open relay connections (sockets and pipes).", metrics.Gauge, func(s relay.Stats) uint64 { return uint64(s.Connections) }),
		relayStat("meshbox_relay_members", "Identified relay members.", metrics.Gauge, func(s relay.Stats) uint64 { return uint64(s.Members) }),
		relayStat("meshbox_relay_pending", "Connections not yet identified.", metrics.Gauge, func(s relay.Stats) uint64 { return uint64(s.Pending) }),
		relayStat("meshbox_relay_accepted_total", "Connections admitted.", metrics.Counter, func(s relay.Stats) uint64 { return s.Accepted }),
		relayStat("meshbox_relay_rejected_total", "Connections refused (caps, origin, token, grammar).", metrics.Counter, func(s relay.Stats) uint64 { return s.Rejected }),
		relayStat("meshbox_relay_frames_in_total", "Frames read by the relay.", metrics.Counter, func(s relay.Stats) uint64 { return s.FramesIn }),
		relayStat("meshbox_relay_frames_out_total", "Frames written by the relay.", metrics.Counter, func(s relay.Stats) uint64 { return s.FramesOut }),
		relayStat("meshbox_relay_dropped_total", "Frames not delivered.", metrics.Counter, func(s relay.Stats) uint64 { return s.Dropped }),
		relayStat("meshbox_relay_reaped_total", "Slow consumers closed.", metrics.Counter, func(s relay.Stats) uint64 { return s.Reaped }),
		relayStat("meshbox_relay_rate_limited_total", "Connections closed by the rate limit.", metrics.Counter, func(s relay.Stats) uint64 { return s.RateLimited }),
		relayStat("meshbox_relay_route_timeouts_total", "route_msg requests that timed out.", metrics.Counter, func(s relay.Stats) uint64 { return s.RouteTimeouts }),
		relayStat("meshbox_relay_evicted_total", "Unidentified sockets closed to make room (pending caps).", metrics.Counter, func(s relay.Stats) uint64 { return s.Evicted }),
		relayStat("meshbox_relay_auth_failed_total", "Identifies refused for their token.", metrics.Counter, func(s relay.Stats) uint64 { return s.AuthFailed }),
		relayStat("meshbox_relay_invalid_utf8_total", "Connections closed 1007 for invalid UTF-8.", metrics.Counter, func(s relay.Stats) uint64 { return s.InvalidUTF8 }),
		bridgeStat("meshbox_bridge_sensor_reads_total", "Successful sensor readings.", func(s bridge.Stats) uint64 { return s.SensorReads }),
		bridgeStat("meshbox_bridge_sensor_errors_total", "Failed sensor opens or reads.", func(s bridge.Stats) uint64 { return s.SensorErrors }),
		bridgeStat("meshbox_bridge_rate_limited_total", "Commands refused by the actuation rate limit.", func(s bridge.Stats) uint64 { return s.RateLimited }),
		bridgeStat("meshbox_bridge_hardware_errors_total", "Failed output writes.", func(s bridge.Stats) uint64 { return s.HardwareErrors }),
		bridgeStat("meshbox_bridge_input_edges_total", "Debounced input changes.", func(s bridge.Stats) uint64 { return s.InputEdges }),
		bridgeStat("meshbox_bridge_serial_lines_total", "Serial lines parsed.", func(s bridge.Stats) uint64 { return s.SerialLines }),
		counter("meshbox_bridge_commands_total", "Commands handled, by result.", func(emit metrics.Emit) {
			st := br.Stats()
			emit(float64(st.CommandsOK), "result", "ok")
			emit(float64(st.CommandsFailed), "result", "failed")
		}),
		counter("meshbox_output_switches_total", "Output changes driven, per output (relay wear).", func(emit metrics.Emit) {
			st := br.Stats()
			for _, o := range b.cfg.Outputs {
				emit(float64(st.OutputSwitches[o.ID]), "output", o.ID)
			}
		}),
		counter("meshbox_events_dropped_total", "Bridge events a subscriber fell behind on.", func(emit metrics.Emit) {
			b.metrics.mu.Lock()
			sub := b.metrics.sub
			b.metrics.mu.Unlock()
			if sub != nil {
				emit(float64(sub.Dropped()), "subscriber", "metrics")
			}
			if b.member != nil {
				emit(float64(b.member.Dropped()), "subscriber", "relay member")
			}
		}),
		// No pairing gauge: /metrics is public on the LAN and must not say
		// when pairing hands out tokens (issue #12, finding 9).
		counter("meshbox_layout_pushes_total", "apply-layout pushes by outcome.", func(emit metrics.Emit) {
			if b.page == nil {
				return
			}
			pc := b.page.pushes
			pc.mu.Lock()
			defer pc.mu.Unlock()
			emit(float64(pc.ok), "result", "ok")
			emit(float64(pc.refused), "result", "refused")
			emit(float64(pc.timeout), "result", "timeout")
		}),
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
