package auth

import (
	"fmt"
	"testing"
)

// BenchmarkLookup: what one identify with an unknown token costs the relay
// with n stored phone tokens (a constant-time scan over every hash).
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, err := Open(Options{Dir: b.TempDir(), HubToken: "hub-token-0123456789"})
			if err != nil {
				b.Fatal(err)
			}
			for range n { // stored tokens, without a file write each
				e, _, err := s.newEntry(ScopeController, "")
				if err != nil {
					b.Fatal(err)
				}
				s.tokens = append(s.tokens, e)
			}
			b.ResetTimer()
			for range b.N {
				if _, ok := s.Lookup("not-a-token-at-all-0123456789"); ok {
					b.Fatal("accepted")
				}
			}
		})
	}
}
