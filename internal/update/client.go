package update

// The sending side of an update ("meshbox update"): fetching a binary and
// its signature, and pushing them to a box's POST /update. The box never
// downloads anything itself, so any URL is fetched here.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// Client fetches and pushes updates. Out gets one progress line per
// download or upload ("downloading URL", "sending FILE to BOX"), so a slow
// transfer is not silent.
type Client struct {
	HTTP *http.Client // nil: http.DefaultClient
	Out  io.Writer    // nil: no progress lines
}

// Pushed is a box's reply to a successful push.
type Pushed struct {
	Version string `json:"version"` // now installed
	From    string `json:"from"`    // the version it replaces
	Signed  bool   `json:"signed"`  // the signature was verified
}

// IsURL reports whether s is fetched over HTTP(S) rather than read as a file.
func IsURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// errNotFound is a 404: a missing default signature is not an error.
var errNotFound = errors.New("not found")

func (c Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c Client) progress(format string, a ...any) {
	if c.Out != nil {
		fmt.Fprintf(c.Out, format, a...)
	}
}

// Fetch returns a local file holding the binary (src itself, or a download
// of it, removed by cleanup) and its signature line: from sigSrc, else
// src+".sig" when that exists ("" when there is none).
func (c Client) Fetch(ctx context.Context, src, sigSrc string) (bin, sig string, cleanup func(), err error) {
	cleanup = func() {}
	bin = src
	if IsURL(src) {
		f, err := os.CreateTemp("", "meshbox-update-*")
		if err != nil {
			return "", "", cleanup, fmt.Errorf("update: %w", err)
		}
		cleanup = func() { os.Remove(f.Name()) }
		c.progress("downloading %s\n", src)
		err = c.download(ctx, src, f, DefaultMaxBytes)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			cleanup()
			return "", "", func() {}, err
		}
		bin = f.Name()
	}
	explicit := sigSrc != ""
	if !explicit {
		sigSrc = src + ".sig"
	}
	var raw bytes.Buffer
	if IsURL(sigSrc) {
		err = c.download(ctx, sigSrc, &raw, 4<<10)
	} else {
		var b []byte
		b, err = os.ReadFile(sigSrc)
		raw.Write(b)
	}
	switch {
	case err == nil:
		return bin, strings.TrimSpace(raw.String()), cleanup, nil
	case !explicit && (errors.Is(err, os.ErrNotExist) || errors.Is(err, errNotFound)):
		return bin, "", cleanup, nil
	default:
		cleanup()
		return "", "", func() {}, fmt.Errorf("update: signature: %w", err)
	}
}

// download copies url to w (at most limit bytes).
func (c Client) download(ctx context.Context, url string, w io.Writer, limit int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("update: download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("download %s: %w (404)", url, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("update: download %s: %s", url, resp.Status)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("update: download %s: %w", url, err)
	}
	if n > limit {
		return fmt.Errorf("update: download %s: more than %d bytes", url, limit)
	}
	return nil
}

// boxURL is the HTTP base of a box given as http(s)://, ws(s):// (the
// relay's address, as in the pairing QR) or a bare HOST:PORT.
func boxURL(box string) string {
	base := strings.TrimSuffix(box, "/")
	switch {
	case strings.HasPrefix(base, "ws://"):
		base = "http://" + strings.TrimPrefix(base, "ws://")
	case strings.HasPrefix(base, "wss://"):
		base = "https://" + strings.TrimPrefix(base, "wss://")
	case !IsURL(base):
		base = "http://" + base
	}
	return base
}

// Push sends the binary at bin, with its signature line and expected
// SHA-256 (each "" when there is none), to the box's POST /update as the
// owner (token). An error carries the box's reason.
func (c Client) Push(ctx context.Context, box, token, bin, sig, sum string) (Pushed, error) {
	base := boxURL(box)
	f, err := os.Open(bin)
	if err != nil {
		return Pushed{}, fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/update", f)
	if err != nil {
		return Pushed{}, fmt.Errorf("update: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	if sum != "" {
		req.Header.Set("X-Meshbox-SHA256", sum)
	}
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	c.progress("sending %s to %s\n", bin, base)
	resp, err := c.http().Do(req)
	if err != nil {
		return Pushed{}, fmt.Errorf("update: %w", err)
	}
	defer resp.Body.Close()
	var reply struct {
		Pushed
		Error string `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(raw, &reply); err != nil {
		return Pushed{}, fmt.Errorf("update: %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	if resp.StatusCode != http.StatusOK {
		return Pushed{}, fmt.Errorf("update refused by the box (%s): %s", resp.Status, reply.Error)
	}
	return reply.Pushed, nil
}
