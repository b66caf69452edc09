// Package mqttlink publishes a meshbox's controls to an MQTT broker and takes
// commands from it, with Home Assistant MQTT discovery.
//
// Topics, under Base (default "meshbox/<name>"):
//
//	<base>/availability          "online" / "offline" (retained; "offline" is the last will)
//	<base>/<id>/state            current value (retained): ON/OFF, a number, or text
//	<base>/<id>/set              commands: ON/OFF/true/false/1/0, a number, PRESS
//	<base>/<id>/error            why a command was refused (not retained)
//	<prefix>/status              Home Assistant's "online" re-publishes discovery and states
//
// A retained command never acts: the set topics are subscribed with MQTT 5
// retain handling 2 (not sent on subscribe) and a command still arriving
// with the retain flag is dropped, logged once per topic. docs/mqtt.md has
// the whole topic table.
//
// Brokers: mqtt:// (tcp), mqtts:// (TLS with an optional CA and client
// certificate), ws:// and wss:// (MQTT over WebSocket). A value not known
// yet (a sensor before its first reading) is not published.
//
// A command goes through Hub.Apply, the same code path as a phone's cmd, so
// interlocks, rate limits, acks and state echoes are the same for MQTT and
// the mesh. Publishing never blocks the caller: the newest value per topic is
// kept in a coalescing table and a single sender goroutine drains it while the
// broker is reachable; after an outage everything pending is published on
// reconnect.
package mqttlink
