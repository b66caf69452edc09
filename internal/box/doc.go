// Package box assembles the meshbox appliance: the embedded relay, the
// hardware bridge and the components that live around them (the bridge's
// relay membership, the MQTT and upstream links, the page with pairing and
// the layout push, systemd notifications and LAN updates), behind one HTTP
// handler.
//
//	phone ──ws──▶ relay ──pipe──▶ bridge intake ──▶ output lock ──▶ pin
//	                 ▲                                   │
//	                 └── member (frames) ◀── events ◀────┘──▶ mqtt, upstream, metrics, …
//
// New opens the hardware and drives every output to its boot state before
// anything is served. Run starts the components in a fixed order (the
// bridge and its membership first, then the links, the page, systemd),
// serves HTTP and WebSocket on Options.Listener, and stops in the reverse
// order: the outputs go to their exit states first, then the components
// (links and the bridge's membership before the relay, so nothing redials
// while stopping), then the relay (1001 to every client), then HTTP.
// Ready is closed once the bridge has joined and the listener is served.
//
// A component is a small file here: a start function that sets it up and
// launches its goroutines, returning the stop function that waits for
// them. New capabilities consume the bridge's events (bridge.Subscribe)
// and mount routes on the box's mux.
//
// Health: /healthz and the systemd watchdog report unhealthy when the
// bridge has been off its relay for more than Options.HealthGrace (a few
// seconds), so systemd restarts a wedged box (exit states first).
package box
