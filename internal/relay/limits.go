package relay

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// normOrigin normalises an origin like the reference 0.2.0 relay:
// strip, drop trailing slashes, lower-case.
func normOrigin(s string) string {
	return strings.ToLower(strings.TrimRight(strings.TrimSpace(s), "/"))
}

// originAllowed applies the 0.2.0 rule: no Origin header is fine (not a
// browser); otherwise an exact normalised match is required.
func originAllowed(origin string, allowed map[string]bool) bool {
	if strings.TrimSpace(origin) == "" {
		return true
	}
	return allowed[normOrigin(origin)]
}

// parsePrefixes parses IPs ("10.0.0.1") and CIDRs ("10.0.0.0/8").
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q: not an IP or CIDR", s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q: not an IP or CIDR", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// clientIP returns the peer address of r, or the forwarded client address
// when the TCP peer is a trusted proxy: X-Real-IP first, then the first hop
// of X-Forwarded-For (reference 0.2.0 order).
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(trusted) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	ok := false
	for _, p := range trusted {
		if p.Contains(peer) {
			ok = true
			break
		}
	}
	if !ok {
		return host
	}
	if v := strings.TrimSpace(r.Header.Get("X-Real-IP")); v != "" {
		return v
	}
	if v := r.Header.Get("X-Forwarded-For"); v != "" {
		first, _, _ := strings.Cut(v, ",")
		if first = strings.TrimSpace(first); first != "" {
			return first
		}
	}
	return host
}

// rateWindow is the reference's sliding-window limiter: it remembers the last
// N arrival times; when N are recorded and the oldest is less than one second
// old, the (N+1)-th frame trips it. Owned by the connection's reader.
type rateWindow struct {
	limit int
	times []int64 // ring of monotonic nanoseconds, allocated on first use
	next  int
	n     int
}

// allow records one arrival at now and reports whether it is within the limit.
func (w *rateWindow) allow(now time.Duration) bool {
	if w.limit <= 0 {
		return true
	}
	if w.times == nil {
		w.times = make([]int64, w.limit)
	}
	t := int64(now)
	if w.n == w.limit {
		oldest := w.times[w.next]
		if t-oldest < int64(time.Second) {
			return false
		}
	} else {
		w.n++
	}
	w.times[w.next] = t
	w.next = (w.next + 1) % w.limit
	return true
}
