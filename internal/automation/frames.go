package automation

// StatusID is the read-only control that carries a thermostat's or
// automation's State ("<id>_status"), in snapshots and state frames.
func StatusID(id string) string { return id + "_status" }
