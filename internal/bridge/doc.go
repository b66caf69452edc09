// Package bridge connects meshbox's hardware (internal/gpio outputs, inputs,
// PWM channels, sensors and serial devices) to the MeshSocket mesh.
//
// The bridge is an ordinary mesh member: it talks through the Mesh interface
// (Broadcast out, HandleBroadcast / HandleRouted in). ConnectRelay joins the
// embedded relay in-process with the Go client (package meshsocket) as member
// cfg.Name, role "hub", broadcast/route/monitor rights and broadcast_scope
// "channel"; tests use a fake Mesh.
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
// switches the other members off, waits the group's dead_time, then switches
// the new one on. All outputs that share a group (transitively) share one
// mutex, held for the whole sequence, so two members are never on together,
// even under concurrent commands. Each switch or momentary output is
// rate-limited to cfg.ActuationRate changes per second (token bucket, burst
// = rate); a command that would not change the output does not count, and
// PWM outputs are not limited (a dragged slider must land on its last
// value). A refused command still gets a state frame with the actual value. Automatic
// changes (max_on, end of a pulse, interlock break, all_off, exit) are never
// limited.
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
//	    "error": "unknown target", "bad value: ...", "rate limited",
//	    "unknown command", "hardware error: ...".
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
//	               {"command":"pulse","target":ID[,"ms":N]}
//	               {"command":"toggle"|"on"|"off","target":ID}
//	               {"command":NAME[,"target":SERIAL_ID][,"value":V]}  serial device command
//	control_sync_request {"from":NAME}
//
// V may be a bool, a number, or a string ("true", "false", "on", "off",
// "1", "0", "75.0"). A cmd whose target is "<serial id>.<command>" writes
// that serial command with {{value}} substituted; target "<serial id>" with
// a string value writes the command of that name.
//
// Routed (route_msg / route_msg_noreply inner type): "set", "cmd",
// "command" (same payloads as above), "set_<ID>" ({"value":V}, or
// {"target":V} as in the app's docs, or a bare scalar), and
// "get-control-state" / "get_state". Routed commands are answered with
// {"ok":true,"target":ID,"state":V} or {"ok":false,"error":"..."}.
//
// The bridge's own frames come back to it (a broadcast includes the
// sender); they are state, metrics and ack shapes the bridge never acts on.
package bridge
