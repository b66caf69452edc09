// Package layout generates the phone app's layout (protocol §14) from the
// meshbox configuration and checks layouts against the §14 rules.
//
// Generate makes one control per piece of hardware: a toggle per switch
// output, a button per momentary output, a slider (0..100 %) per PWM output,
// a gauge (or label or sparkline) per sensor field and a statusLight per
// input. Every action is a broadcast_request carrying the bridge's cmd shape
// {"msg_type":"cmd","target":ID,"value":"{{value}}"}; every sync listens to
// broadcast frames with the filter and valuePath of the frame the bridge
// sends for that control. Controls are packed into tabs on a 4-column grid
// with first-fit placement, so no two cells overlap. The config's layout:
// section overrides labels, icons, tints, order, tabs and display types.
//
// The connection block's identity flags (canBroadcast, canRoute) are what the
// relay grants the phone's role (the config's relay role sets, else the §5
// defaults: a controller may broadcast and route), so a phone that sends
// them does not narrow its own rights.
//
// Validate implements the schema rules (required fields, unique ids, cells
// inside their grid and not overlapping, actions on relay verbs) and, given
// frames the bridge really sends, checks that every sync filter matches one
// of them with the §14.5 rules (typed filter equality, valuePath walk).
//
// Pusher watches the roster and pushes the layout to each phone that joins
// with a routed apply-layout, once per phone and layout version.
package layout
