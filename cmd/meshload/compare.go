package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

// compare runs o.rounds rounds; each runs the load against a fresh minimal
// relay and against meshbox (a fresh child, or the relay at -url), in
// alternating order, and prints each figure, the ranges and the ratios.
func compare(ctx context.Context, o options, out io.Writer) error {
	latency := o.mode == "latency"
	var mine, theirs []fanResult
	var ratios []float64
	for r := 0; r < max(o.rounds, 1); r++ {
		kinds := []string{"minimal", "meshbox"}
		if r%2 == 1 {
			kinds = []string{"meshbox", "minimal"}
		}
		res := map[string]fanResult{}
		for _, kind := range kinds {
			oo := o
			var c *child
			if kind == "minimal" || o.url == "" {
				var err error
				if c, err = spawn(kind, o.token); err != nil {
					return err
				}
				oo.url = c.url
			}
			fmt.Fprintf(out, "--- round %d: %s (%s)\n", r+1, kind, oo.url)
			fr, err := runFanout(ctx, oo, out, latency)
			if c != nil {
				_ = c.stop()
			}
			if err != nil {
				return fmt.Errorf("round %d %s: %w", r+1, kind, err)
			}
			res[kind] = fr
		}
		mine, theirs = append(mine, res["meshbox"]), append(theirs, res["minimal"])
		if latency {
			ratios = append(ratios, float64(res["meshbox"].p99)/float64(max(res["minimal"].p99, 1)))
		} else {
			ratios = append(ratios, res["meshbox"].perSec/res["minimal"].perSec)
		}
	}
	span := func(rs []fanResult, f func(fanResult) float64) (float64, float64) {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return slices.Min(v), slices.Max(v)
	}
	rate := func(r fanResult) float64 { return r.perSec }
	p99 := func(r fanResult) float64 { return float64(r.p99) / float64(time.Millisecond) }
	var lost int64
	for _, r := range mine {
		lost += r.lost
	}
	fmt.Fprintf(out, "=== %d rounds, %d subscribers, mode %s\n", len(mine), o.subs, o.mode)
	lo, hi := span(theirs, rate)
	fmt.Fprintf(out, "minimal relay: %.0f–%.0f deliveries/s", lo, hi)
	lo, hi = span(theirs, p99)
	fmt.Fprintf(out, ", p99 %.2f–%.2f ms\n", lo, hi)
	lo, hi = span(mine, rate)
	fmt.Fprintf(out, "meshbox:       %.0f–%.0f deliveries/s", lo, hi)
	lo, hi = span(mine, p99)
	fmt.Fprintf(out, ", p99 %.2f–%.2f ms, lost %d\n", lo, hi, lost)
	what := "deliveries/s ratio meshbox/minimal"
	if latency {
		what = "p99 ratio meshbox/minimal"
	}
	s := slices.Clone(ratios)
	slices.Sort(s)
	fmt.Fprintf(out, "%s per round: %.2f (min %.2f, median %.2f, max %.2f)\n", what, ratios, s[0], s[len(s)/2], s[len(s)-1])
	return nil
}
