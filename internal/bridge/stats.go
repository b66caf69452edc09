package bridge

import "sync/atomic"

type counters struct {
	sensorReads, sensorErrors                 atomic.Uint64
	serialLines, serialBadLines, serialErrors atomic.Uint64
	serialWrites                              atomic.Uint64
	switches, hardwareErrors, rateLimited     atomic.Uint64
	commandsOK, commandsFailed                atomic.Uint64
	inputEdges, stateWriteErrors              atomic.Uint64
}

// Stats are the bridge's counters since New, for /metrics.
type Stats struct {
	SensorReads      uint64            // successful sensor readings
	SensorErrors     uint64            // failed sensor opens or reads
	SerialLines      uint64            // serial lines parsed and published
	SerialBadLines   uint64            // serial lines that did not parse
	SerialErrors     uint64            // serial device failures (open, read, unplug)
	SerialWrites     uint64            // serial commands written
	Switches         uint64            // output changes driven (all outputs)
	OutputSwitches   map[string]uint64 // per output id
	HardwareErrors   uint64            // failed output writes
	RateLimited      uint64            // commands refused by the actuation rate limit
	CommandsOK       uint64            // commands applied
	CommandsFailed   uint64            // commands refused or failed
	InputEdges       uint64            // debounced input changes
	StateWriteErrors uint64            // failed writes of the restore state file
	SnapshotVersion  uint64            // current control_snapshot v
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	s := Stats{
		SensorReads:      b.stats.sensorReads.Load(),
		SensorErrors:     b.stats.sensorErrors.Load(),
		SerialLines:      b.stats.serialLines.Load(),
		SerialBadLines:   b.stats.serialBadLines.Load(),
		SerialErrors:     b.stats.serialErrors.Load(),
		SerialWrites:     b.stats.serialWrites.Load(),
		Switches:         b.stats.switches.Load(),
		HardwareErrors:   b.stats.hardwareErrors.Load(),
		RateLimited:      b.stats.rateLimited.Load(),
		CommandsOK:       b.stats.commandsOK.Load(),
		CommandsFailed:   b.stats.commandsFailed.Load(),
		InputEdges:       b.stats.inputEdges.Load(),
		StateWriteErrors: b.stats.stateWriteErrors.Load(),
		OutputSwitches:   make(map[string]uint64, len(b.outList)),
	}
	for _, o := range b.outList {
		o.dom.lock()
		s.OutputSwitches[o.cfg.ID] = o.switches
		o.dom.unlock()
	}
	b.mu.Lock()
	s.SnapshotVersion = b.v
	b.mu.Unlock()
	return s
}
