package cli

import (
	"context"
	"strconv"
	"time"
)

// Sim runs "sim URL set TARGET VALUE" (a sensor field's reading, an input's
// level, null to release) and "sim URL fault SENSOR true|false" on a box
// running the simulated board: it broadcasts {"msg_type":"sim",...} with
// _cmd and waits for the command_ack (ok:false "not simulated" on real
// hardware).
func Sim(ctx context.Context, env IO, args []string) error {
	const usage = "usage: meshbox sim URL set FIELD|INPUT VALUE|null | meshbox sim URL fault SENSOR true|false [flags]"
	cf, pos, err := parseCmd("sim", 5*time.Second, args, 4, 4, usage)
	if err != nil {
		return err
	}
	payload := map[string]any{"msg_type": "sim", "target": pos[2]}
	switch pos[1] {
	case "set":
		payload["value"] = setValue(pos[3])
	case "fault":
		on, err := strconv.ParseBool(pos[3])
		if err != nil {
			return usagef("fault takes true or false, not %q (%s)", pos[3], usage)
		}
		payload["fault"] = on
	default:
		return usagef("unknown sim action %q (%s)", pos[1], usage)
	}
	raw, err := ackedSend(ctx, env, cf, pos[0], "sim "+pos[2], payload)
	if err != nil {
		return err
	}
	return reportAck(env, cf, raw, "sim "+pos[2], pos[3])
}
