// Package history keeps what the box measured: per series (a sensor field,
// an output's state) a raw tier for the last day, one-minute min/avg/max
// rollups for a week and fifteen-minute rollups for a year (the defaults;
// see Policy).
//
// Memory is bounded: sealed stretches of every tier are kept as compact
// encoded blocks (delta-of-delta times, delta-coded scaled integers, see
// codec.go) and only the newest few minutes are plain slices.
//
// Persistence is an append-only segment format of its own (segment.go,
// documented in docs/history.md): a Store buffers appends and writes them in
// one burst per flush interval (default 5 minutes) and at Close, one
// CRC-checked record per tier file and burst, so a power cut loses at most
// the unflushed window and a torn tail is skipped at load. Segment files are
// partitioned by time (raw per hour, one-minute per day, fifteen-minute per
// month), so retention deletes whole files and nothing is rewritten, except
// to delete a series evicted at the series cap (evict.go).
package history
