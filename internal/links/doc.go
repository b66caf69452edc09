// Package links connects a running bridge to the world beyond one box: an
// MQTT broker (package mqttlink, with Home Assistant discovery) and an
// upstream MeshSocket relay (another meshbox, a reference relay or a wss://
// gateway).
//
// # MQTT
//
// Hub adapts a *bridge.Bridge to mqttlink.Hub: the link's own bridge
// subscription (state and metrics events) feeds its coalescing table, and
// commands go through bridge.Apply, the code path of a phone cmd, so
// interlocks, rate limits and state echoes to the mesh are the same. Controls turns bridge.Controls into the published
// controls (device_class from the unit).
//
// # Upstream
//
// JoinUpstream makes the bridge a member of the upstream relay with
// bridge.Join. The bridge re-sends a control_snapshot after every
// admission; the meshsocket client reconnects with backoff. Two things are
// added on that link only:
//
//   - Writes are queued (bounded) and written by a goroutine, so a slow
//     remote never blocks the hardware loop. When the queue overflows the
//     connection is dropped; the reconnect re-sends a snapshot, so no
//     state is lost, only superseded intermediate values.
//   - Ids are namespaced: with Prefix "<name>." (the default, name being
//     the upstream member name), every control id leaving the box is
//     prefixed by the bridge's member as it encodes the events
//     (bridge.JoinOptions.Prefix: state/input target, metrics and
//     sensor_error source and field keys, control_snapshot keys, routed
//     replies). In the transport, broadcasts the bridge never acts on are
//     dropped before the client's handler queue, and broadcast
//     commands (cmd, set, command) are accepted only for targets carrying
//     the prefix, which is stripped before the bridge sees them. So many
//     boxes with the same control ids can share one upstream channel: a
//     dashboard switches "garage.lamp" without touching "kitchen.lamp".
//     A command without a target is accepted only for "all_off" (the safe
//     direction: a house-wide all-off) or with "target":"<name>". Frames
//     routed to this box by id or name need no prefix (a prefixed target
//     is stripped too). With Prefix "" the box is the hub on that relay:
//     linked boxes' box_announce, state, metrics, control_snapshot and
//     command_ack pass to the bridge, which aggregates and forwards them
//     (bridge relayed.go).
//
// Member names must be distinct on one upstream relay: a newcomer with the
// same name evicts the incumbent (close 1000), so two boxes both called
// "meshbox" would knock each other off in turn. The link logs an error
// when it is evicted that way.
package links
