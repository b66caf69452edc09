package update

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
)

// HandlerOptions configures Handler.
type HandlerOptions struct {
	Updater *Updater
	// Token returns the relay token; requests must carry
	// "Authorization: Bearer TOKEN". An empty token refuses every update
	// (an open relay must not accept binaries from anyone on the LAN).
	Token func() string
	// Restart is called once the reply is written, after a successful
	// install. It must not block: it should cancel the serving context with
	// ErrRestart so meshbox shuts down cleanly and exits ExitCodeRestart.
	Restart func()
	Logger  *slog.Logger
}

// urlRequest is the JSON form of POST /update.
type urlRequest struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
}

// Handler serves POST /update. The body is the new binary
// (application/octet-stream; optional SHA-256 in the X-Meshbox-SHA256
// header or ?sha256=), or JSON {"url": "...", "sha256": "..."} to make the
// box download it. Replies are JSON: 200 {"status":"installed",...},
// 400 rejected binary, 401/403 auth, 405, 409 busy, 413 too large, 500.
func Handler(o HandlerOptions) http.Handler {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			reply(w, http.StatusMethodNotAllowed, "failed", "use POST")
			return
		}
		token := ""
		if o.Token != nil {
			token = o.Token()
		}
		if token == "" {
			reply(w, http.StatusForbidden, "failed", "updates need a relay token (auth: none refuses them)")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meshbox"`)
			logger.Warn("update refused: bad or missing bearer token", "remote", r.RemoteAddr)
			reply(w, http.StatusUnauthorized, "failed", "bad or missing bearer token")
			return
		}
		u := o.Updater
		ctx := r.Context()
		var (
			inst Installed
			err  error
		)
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "application/json" {
			var req urlRequest
			dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
			dec.DisallowUnknownFields()
			if derr := dec.Decode(&req); derr != nil {
				reply(w, http.StatusBadRequest, "failed", "bad JSON body: "+derr.Error())
				return
			}
			if !strings.HasPrefix(req.URL, "http://") && !strings.HasPrefix(req.URL, "https://") {
				reply(w, http.StatusBadRequest, "failed", `"url" must be an http:// or https:// URL`)
				return
			}
			inst, err = u.InstallFrom(ctx, req.URL, req.SHA256)
		} else {
			sum := r.Header.Get("X-Meshbox-SHA256")
			if sum == "" {
				sum = r.URL.Query().Get("sha256")
			}
			r.Body = http.MaxBytesReader(w, r.Body, u.maxBytes())
			inst, err = u.Install(ctx, r.Body, sum)
		}
		if err != nil {
			logger.Warn("update refused", "remote", r.RemoteAddr, "err", err)
			reply(w, statusFor(err), "failed", err.Error())
			return
		}
		logger.Info("update installed over HTTP, restarting", "remote", r.RemoteAddr, "version", inst.Version)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status": "installed", "version": inst.Version, "sha256": inst.SHA256,
			"size": inst.Size, "from": u.Version, "restarting": o.Restart != nil,
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
