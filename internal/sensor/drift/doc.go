// Package drift is a seeded, bounded, mean-reverting random walk used to make
// simulated sensors wander plausibly over time, driven by an injectable clock.
package drift
