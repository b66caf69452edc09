package page

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/pairing"
)

// Owner API failure limit: after ownerFailures refused credentials within
// ownerFailWindow, every owner request is refused (429) until the oldest
// failure is that old.
const (
	ownerFailures   = 20
	ownerFailWindow = time.Minute
)

// ownerAPI is POST /api/owner: one pairing.Request (JSON) with the owner
// credential as Authorization: Bearer. A member token gets 403, anything
// else 401.
func (h *Handler) ownerAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.opts.Admin == nil || h.opts.Credentials == nil {
		http.NotFound(w, r)
		return
	}
	if !HostAllowed(r.Host, h.opts.Hosts) {
		http.Error(w, "unknown host", http.StatusForbidden)
		return
	}
	if wait := h.owner.blocked(time.Now()); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		http.Error(w, "too many wrong owner credentials; try again later", http.StatusTooManyRequests)
		return
	}
	var tok string
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		tok = strings.TrimSpace(strings.TrimPrefix(a, "Bearer "))
	}
	if !h.opts.Credentials.IsOwner(tok) {
		if _, member := h.opts.Credentials.Lookup(tok); member {
			http.Error(w, "a member token cannot use the owner API (the owner credential: sudo meshbox owner-token)", http.StatusForbidden)
			return
		}
		if h.owner.fail(time.Now()) {
			h.opts.Logger.Warn("page: refused owner credentials (logged once a minute)", "remote", r.RemoteAddr)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="meshbox owner"`)
		http.Error(w, "the owner credential is needed (sudo meshbox owner-token prints it)", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, pairing.MaxRequestBytes))
	if err != nil {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	req, err := pairing.ParseRequest(body)
	if err != nil {
		writeJSONStatus(w, http.StatusBadRequest, pairing.Response{Error: err.Error()})
		return
	}
	resp := h.opts.Admin.Do(req, "the owner's page")
	status := http.StatusOK
	if !resp.OK {
		status = http.StatusBadRequest
	}
	writeJSONStatus(w, status, resp)
}

// ownerLimiter counts refused owner credentials in a sliding window.
type ownerLimiter struct {
	mu       sync.Mutex
	failures []time.Time
	logged   time.Time
}

func newOwnerLimiter() *ownerLimiter { return &ownerLimiter{} }

func (l *ownerLimiter) prune(now time.Time) {
	i := 0
	for i < len(l.failures) && now.Sub(l.failures[i]) >= ownerFailWindow {
		i++
	}
	l.failures = l.failures[i:]
}

// blocked returns how long owner requests are still refused (0 = not).
func (l *ownerLimiter) blocked(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	if len(l.failures) < ownerFailures {
		return 0
	}
	return ownerFailWindow - now.Sub(l.failures[0])
}

// fail records a failure; it reports whether to log it (once a minute).
func (l *ownerLimiter) fail(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	l.failures = append(l.failures, now)
	if now.Sub(l.logged) >= time.Minute {
		l.logged = now
		return true
	}
	return false
}
