package update

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Authorization errors an Authorize function returns: ErrForbidden maps
// to 403 (the credential is known but may not install), anything else to
// 401 with a WWW-Authenticate challenge.
var (
	ErrUnauthorized = errors.New("bad or missing owner credential")
	ErrForbidden    = errors.New("this credential may not install updates")
)

// HandlerOptions configures Handler.
type HandlerOptions struct {
	Updater *Updater
	// Authorize decides whether r may install an update (the owner
	// credential): nil error allows it. Required: a nil Authorize refuses
	// every update.
	Authorize func(r *http.Request) error
	// Restart is called once the reply is written, after a successful
	// install. It must not block: it should cancel the serving context with
	// ErrRestart so meshbox shuts down cleanly and exits ExitCodeRestart.
	Restart func()
	Logger  *slog.Logger
}

// BearerAuthorizer allows requests carrying "Authorization: Bearer T"
// where T is token() (compared in constant time). An empty token refuses
// every update with ErrForbidden.
func BearerAuthorizer(token func() string) func(*http.Request) error {
	return func(r *http.Request) error {
		want := token()
		if want == "" {
			return fmt.Errorf("%w: updates need a credential (auth: none refuses them)", ErrForbidden)
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return ErrUnauthorized
		}
		return nil
	}
}

// uploadTimeout bounds one upload: it replaces the HTTP server's short
// read/write timeouts for this request (a 20 MB binary over weak Wi-Fi).
const uploadTimeout = 10 * time.Minute

// Handler serves POST /update. The body is the new binary
// (application/octet-stream), with its signature line in the
// X-Meshbox-Signature header (required when the box has an update key)
// and optionally its SHA-256 in X-Meshbox-SHA256 (or ?sha256=). The box
// never downloads anything itself: a JSON body naming a URL is refused
// (415); "meshbox update -box" downloads and pushes. Replies are JSON:
// 200 {"status":"installed",...}, 400 rejected binary, 401/403 auth, 405,
// 409 busy, 413 too large, 415, 500.
func Handler(o HandlerOptions) http.Handler {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	refusals := &refusalLog{every: time.Minute}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			reply(w, http.StatusMethodNotAllowed, "failed", "use POST")
			return
		}
		authErr := ErrForbidden
		if o.Authorize != nil {
			authErr = o.Authorize(r)
		}
		if authErr != nil {
			// Anyone on the LAN can send these: logged at most once a minute.
			if n, ok := refusals.allow(time.Now()); ok {
				logger.Warn("update refused: not the owner credential", "remote", r.RemoteAddr, "reason", authErr.Error(), "suppressed", n)
			}
			if errors.Is(authErr, ErrForbidden) {
				reply(w, http.StatusForbidden, "failed", authErr.Error())
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="meshbox"`)
			reply(w, http.StatusUnauthorized, "failed", authErr.Error())
			return
		}
		u := o.Updater
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
			logger.Warn("update refused: the box does not download URLs", "remote", r.RemoteAddr)
			reply(w, http.StatusUnsupportedMediaType, "failed",
				"the box does not download updates: send the binary as application/octet-stream (meshbox update -box URL|FILE downloads and sends it)")
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(uploadTimeout))
		_ = rc.SetWriteDeadline(time.Now().Add(uploadTimeout))
		sum := r.Header.Get("X-Meshbox-SHA256")
		if sum == "" {
			sum = r.URL.Query().Get("sha256")
		}
		r.Body = http.MaxBytesReader(w, r.Body, u.maxBytes())
		inst, err := u.Install(r.Context(), r.Body, Check{SHA256: sum, Signature: r.Header.Get(SignatureHeader)})
		if err != nil {
			logger.Warn("update refused", "remote", r.RemoteAddr, "err", err)
			reply(w, statusFor(err), "failed", err.Error())
			return
		}
		logger.Info("update installed over HTTP, restarting", "remote", r.RemoteAddr, "version", inst.Version, "signed", inst.Signed)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status": "installed", "version": inst.Version, "sha256": inst.SHA256,
			"size": inst.Size, "from": u.Version, "signed": inst.Signed, "restarting": o.Restart != nil,
		})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if o.Restart != nil {
			o.Restart()
		}
	})
}

func statusFor(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrBusy):
		return http.StatusConflict
	case errors.Is(err, ErrTooLarge), errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrVerify):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

func reply(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": status, "error": msg})
}

// refusalLog lets one log line through per interval and counts the rest.
type refusalLog struct {
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether to log now, and how many lines were suppressed
// since the last one logged.
func (l *refusalLog) allow(now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return 0, false
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return n, true
}
