package relay

import "sync/atomic"

// counters are the relay's running totals (all atomic).
type counters struct {
	accepted      atomic.Uint64
	rejected      atomic.Uint64
	framesIn      atomic.Uint64
	framesOut     atomic.Uint64
	dropped       atomic.Uint64
	reaped        atomic.Uint64
	rateLimited   atomic.Uint64
	routeTimeouts atomic.Uint64
	ignored       atomic.Uint64
	evicted       atomic.Uint64
	authFailed    atomic.Uint64
	invalidUTF8   atomic.Uint64
}

// Stats is a snapshot of the relay's counters, for /metrics and logs.
type Stats struct {
	Connections   int    // open sockets and pipes (admitted past the caps, identified or not)
	Members       int    // identified members
	Pending       int    // admitted but not yet identified
	Accepted      uint64 // connections admitted past the caps since start
	Rejected      uint64 // connections refused (caps, origin, token, grammar)
	FramesIn      uint64 // frames read (after the rate limit check)
	FramesOut     uint64 // frames written
	Dropped       uint64 // frames not delivered: queue full or connection closing
	Reaped        uint64 // slow consumers closed (queue full or send timeout)
	RateLimited   uint64 // connections closed by the rate limit
	RouteTimeouts uint64 // route_msg answered "target timeout" by the timer
	Ignored       uint64 // unknown types, client welcome, stray replies
	Evicted       uint64 // unidentified sockets closed to make room (pending caps)
	AuthFailed    uint64 // identifies refused for their token (incl. while blocked)
	InvalidUTF8   uint64 // connections closed 1007 for invalid UTF-8
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.RLock()
	st := Stats{Connections: s.open, Members: len(s.all)}
	for _, n := range s.pendingIP {
		st.Pending += n
	}
	s.mu.RUnlock()
	st.Accepted = s.stats.accepted.Load()
	st.Rejected = s.stats.rejected.Load()
	st.FramesIn = s.stats.framesIn.Load()
	st.FramesOut = s.stats.framesOut.Load()
	st.Dropped = s.stats.dropped.Load()
	st.Reaped = s.stats.reaped.Load()
	st.RateLimited = s.stats.rateLimited.Load()
	st.RouteTimeouts = s.stats.routeTimeouts.Load()
	st.Ignored = s.stats.ignored.Load()
	st.Evicted = s.stats.evicted.Load()
	st.AuthFailed = s.stats.authFailed.Load()
	st.InvalidUTF8 = s.stats.invalidUTF8.Load()
	return st
}
