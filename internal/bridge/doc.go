// Package bridge connects meshbox's hardware (internal/gpio outputs, inputs,
// PWM channels, sensors and serial devices) to the MeshSocket mesh.
//
// # Events
//
// Everything the bridge does or sees is an Event (state, input edge,
// metrics, sensor error, snapshot, ack, notify), emitted without ever
// blocking, handed by one publisher goroutine to bounded per-subscriber
// queues (Subscribe). When a subscriber falls behind, an older state of the
// same control is replaced (latest wins), else the oldest metrics reading
// is dropped; a slow subscriber never slows the hardware. State events are
// for outputs and inputs; sensor and serial fields arrive as one metrics
// event per reading. Frame encodes an event as the broadcast payload below.
//
// # Mesh members
//
// Join makes the bridge a member of a relay with the Go client (package
// meshsocket): member cfg.Name, role "hub", broadcast/route/monitor rights,
// broadcast_scope "channel". The member sends the events as frames (one
// writer goroutine, its own subscription) and a control_snapshot after every
// admission. Broadcast commands go to the intake (Receive), which never
// makes the reader wait: all_off and control_sync_request are handled at
// once, other commands are queued for one worker (a full queue, or a
// command that waited more than a second, is refused with "busy" instead of
// moving a pin late; all_off cancels every command received before it that
// has not changed an output yet). HandleBroadcast and
// HandleRouted are the synchronous entry points (routed commands, tests).
// The embedded relay's pipe is quiet: the bridge gets neither its own
// broadcasts back nor "sent" replies.
//
// # Lifecycle and safety
//
// New opens every output and drives it to its boot state (off, on, or the
// value restored from <StateDir>/outputs.json) before it returns, so the
// caller can call it before the relay accepts clients. Run starts the
// sensor, input and serial loops. Shutdown drives every output to its exit
// state (off, on, keep); SafeExit does the same from a deferred recover and
// re-panics. Goroutines started by the bridge recover their own panics the
// same way.
//
// Interlocks use break-before-make: switching on an output of a group first
// switches the other members off; when the group's dead_time since a
// member went off has not passed yet, the switch-on is scheduled for when
// it has (the command returns at once; its command_ack comes then). A newer
// command for the group, all_off or the exit cancel a scheduled switch-on
// (its ack says "busy: superseded ..."). All outputs that share a group
// (transitively) share one lock, never held across a sleep, a network
// send or a callback, so two members are never on together, even under
// concurrent commands. A command that cannot take the lock within a
// second is refused with "busy". Each switch or momentary output is
// rate-limited to cfg.ActuationRate changes per second (token bucket, burst
// = rate); a command that would not change the output does not count, and
// PWM outputs are not limited (a dragged slider must land on its last
// value). A refused command still gets a state frame with the actual
// value. Automatic changes (max_on, end of a pulse, interlock break,
// all_off, exit) are never limited.
//
// On limits: a momentary output is on for its configured pulse at most,
// whatever switched it on (cmd/set true, command on/toggle/pulse, routed
// set_<id>, Apply): it switches off by itself. A switch or PWM output with
// max_on switches off max_on after it went on. A pulse command while the
// output is already on never extends it past that limit, counted from when
// it went on, so repeated commands cannot hold it on. The pulse command's
// "ms" must be a finite number (or its string form) with 1 <= ms <= the
// output's limit: its pulse for a momentary output, max_on for a switch
// that has one, else 60000 (one minute, or the configured pulse if
// longer); anything else is refused with
// "bad value: ms must be between 1 and N". Without "ms" the configured
// pulse is used (bounded the same way).
//
// # Logging
//
// A command refused because of the client (unknown target or command,
// read-only target, bad value, rate limited) is logged at INFO as one
// "command refused" line with target, from and reason (and command for a
// command message); a hardware error at WARN as "command failed". These
// lines are rate-limited per requester (a burst of 5, then 1 a second) and
// overall (20, then 5 a second); the next line logged for a requester
// carries "suppressed", the number of lines dropped before it.
//
// # Frames the bridge sends (all as broadcast_request payloads)
//
//	{"msg_type":"state","target":ID,"value":V}
//	    after every output or input change. V is a bool for switch and
//	    momentary outputs and for inputs, a number 0..100 (percent duty)
//	    for PWM outputs. A momentary output sends true, then false after
//	    its pulse.
//	{"msg_type":"input","target":ID,"edge":"rising"|"falling"}
//	    also on an input edge when the input's broadcast is "event".
//	{"msg_type":"metrics","source":SENSOR_ID,FIELD:NUMBER,...}
//	    one per sensor reading. Fields are the sensor's configured field
//	    names, default "<sensor id>_<driver field>". Only numbers besides
//	    msg_type and source.
//	{"msg_type":"metrics","source":SERIAL_ID,KEY:VALUE,...}
//	    one per parsed serial line; KEY is the configured field name or
//	    "<device id>_<key>"; VALUE a number, bool or string. A text-framed
//	    device sends {"msg_type":"metrics","source":ID,ID:"<line>"}.
//	{"msg_type":"sensor_error","source":ID,"error":"...","retry_ms":N}
//	    when a sensor read or a serial device fails; it is retried with
//	    exponential backoff (interval doubling up to 1 minute).
//	{"msg_type":"control_snapshot","to":FROM,"v":N,"controls":{ID:V,...}}
//	    answering {"msg_type":"control_sync_request","from":FROM}. v grows
//	    with every change; controls holds every output, input and sensor
//	    or serial field id (a field not read yet is null).
//	{"msg_type":"command_ack","cmd_id":CMD,"to":FROM,"ok":true}
//	    after a command that carried "_cmd" (and "_from"); ok:false adds
//	    "error": "unknown target: ...", "target is read-only: ...",
//	    "bad value: ...", "rate limited", "unknown command: ...",
//	    "hardware error: ...", "busy: ..." (not applied promptly,
//	    superseded, cancelled by all_off). Bad-value reasons are written for the user,
//	    e.g. "bad value: 2 is not on/off", "bad value: 1e309 is not a
//	    finite number", "bad value: an object is not a switch value (use
//	    true/false)", "bad value: value is missing", "bad value: 150 is
//	    outside 0..100".
//
//	{"msg_type":"notify","source":RULE,"text":TEXT}
//	    an automation's notify action (Notify; EventNotify).
//
// Extra controls (Options.Controls: thermostat targets, automation enabled
// flags) are set with cmd/set like an output and appear in states and
// snapshots once published with SetControl (also their read-only
// "<id>_status" values).
//
// Controls(cfg) returns, for a configuration, every control id with the
// sync filter and valuePath that match these frames; the layout generator
// uses it.
//
// # Frames the bridge accepts
//
// From broadcast frames (payload msg_type):
//
//	cmd, set       {"target":ID,"value":V}  (set also accepts "key" for target)
//	command        {"command":"all_off"}
//	               {"command":"pulse","target":ID[,"ms":N]}  1 <= N <= limit (see On limits)
//	               {"command":"toggle"|"on"|"off","target":ID}
//	               {"command":NAME[,"target":SERIAL_ID][,"value":V]}  serial device command
//	control_sync_request {"from":NAME}
//	sim            {"target":FIELD|INPUT,"value":N|BOOL|null} or
//	               {"target":SENSOR,"fault":BOOL}: drives the simulated
//	               board (Options.Sim); refused "not simulated" otherwise
//
// For a switch or momentary output V must be true/false, 1/0, or one of
// the strings "true", "false", "on", "off", "1", "0" (case-insensitive);
// anything else (2, "yes", "75.0") is refused. For a PWM output V is a
// number 0..100 or its string form ("75.0", "75%"), or true/on (100) and
// false/off (0). Numbers must be finite. A cmd whose target is "<serial id>.<command>" writes
// that serial command with {{value}} substituted; target "<serial id>" with
// a string value writes the command of that name.
//
// Routed (route_msg / route_msg_noreply inner type): "set", "cmd",
// "command" (same payloads as above), "set_<ID>" ({"value":V}, or
// {"target":V} as in the app's docs, or a bare scalar), and
// "get-control-state" / "get_state". Routed commands are answered with
// {"ok":true,"target":ID,"state":V} or {"ok":false,"error":"..."}.
//
// Over a relay that echoes broadcasts to their sender (an upstream relay)
// the bridge's own frames come back; they are state, metrics and ack
// shapes the bridge never acts on (the upstream link drops them before
// the client's handler queue).
package bridge
