package main

// "meshbox update URL|FILE" (local or -box), signed updates (cmd_keygen.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/meshbox/meshbox/internal/update"
)

// updateCmd installs a new meshbox binary, either on this machine (into the
// state directory the service runs updates from, then restarts the
// service) or, with -box, on a running box over the LAN (POST /update).
// The signature (FILE.sig, or -sig) goes with it; a box with an update key
// installs only signed binaries. A URL is downloaded here, never by the
// box. Rollback of an update that does not come up healthy is automatic;
// see internal/update.
func updateCmd(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	sum := fs.String("sha256", "", "expected SHA-256 of the new binary (hex)")
	sigFlag := fs.String("sig", "", "signature file or URL (default: the binary's name + .sig, when it exists)")
	state := fs.String("state", "/var/lib/meshbox", "state directory of the local box")
	keyFile := fs.String("key", update.DefaultKeyFile, "update public key of the local box (when it exists, only signed binaries are installed)")
	restart := fs.Bool("restart", true, "restart meshbox.service after a local install")
	box := fs.String("box", "", "push to a running box instead: http://HOST:8765")
	token := fs.String("token", "", "owner credential for -box (sudo meshbox owner-token on the box; default $MESHBOX_OWNER_TOKEN)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := parseFlags(env, fs, args,
		"usage: meshbox update [-sha256 HEX] [-sig FILE] [-state DIR] [-restart=false] URL|FILE",
		"       meshbox update -box http://HOST:8765 [-token T] [-sha256 HEX] [-sig FILE] URL|FILE"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		return usageError("update: give one URL or FILE (meshbox update -h for help)")
	}
	src := fs.Arg(0)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	tok := *token
	if *box != "" {
		if tok == "" && env.Getenv != nil {
			tok = env.Getenv("MESHBOX_OWNER_TOKEN")
		}
		if tok == "" {
			return usageError("update -box needs the owner credential: -token or MESHBOX_OWNER_TOKEN (sudo meshbox owner-token on the box prints it; member tokens cannot install updates)")
		}
	}
	bin, sig, cleanup, err := fetchUpdate(ctx, env, src, *sigFlag)
	if err != nil {
		return err
	}
	defer cleanup()
	if *box != "" {
		return pushUpdate(ctx, env, *box, tok, bin, sig, *sum)
	}

	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	u := &update.Updater{Layout: update.Layout{StateDir: *state}, Version: version, Logger: logger, KeyFile: *keyFile}
	fmt.Fprintf(env.Stdout, "installing %s into %s\n", src, u.Layout.BinDir())
	inst, err := u.InstallFrom(ctx, bin, update.Check{SHA256: *sum, Signature: sig})
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w (run with sudo, or push over the LAN: meshbox update -box http://HOST:8765 %s)", err, src)
	}
	if err != nil {
		return err
	}
	signed := "unsigned: this box has no update key"
	if inst.Signed {
		signed = "signature verified"
	}
	fmt.Fprintf(env.Stdout, "installed meshbox %s (sha256 %s, %d bytes, %s) as %s\n", inst.Version, inst.SHA256, inst.Size, signed, inst.Path)
	if !*restart {
		fmt.Fprintln(env.Stdout, "it runs at the next start of meshbox.service (rolled back if it does not come up healthy)")
		return nil
	}
	systemctl, err := exec.LookPath("systemctl")
	if err != nil {
		fmt.Fprintln(env.Stdout, "no systemctl: restart meshbox yourself to run the new version")
		return nil
	}
	out, err := exec.CommandContext(ctx, systemctl, "restart", "meshbox.service").CombinedOutput()
	if err != nil {
		return fmt.Errorf("installed, but restarting meshbox.service failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
	fmt.Fprintln(env.Stdout, "restarted meshbox.service; it rolls back by itself if the new version is not healthy")
	return nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// fetchUpdate returns a local file holding the binary (src itself, or a
// download of it) and its signature line: from sigSrc, else src+".sig"
// when that exists ("" when there is none).
func fetchUpdate(ctx context.Context, env *Env, src, sigSrc string) (bin, sig string, cleanup func(), err error) {
	cleanup = func() {}
	bin = src
	if isURL(src) {
		f, err := os.CreateTemp("", "meshbox-update-*")
		if err != nil {
			return "", "", cleanup, fmt.Errorf("update: %w", err)
		}
		cleanup = func() { os.Remove(f.Name()) }
		fmt.Fprintf(env.Stdout, "downloading %s\n", src)
		err = download(ctx, src, f, update.DefaultMaxBytes)
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
	if isURL(sigSrc) {
		err = download(ctx, sigSrc, &raw, 4<<10)
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

var errNotFound = errors.New("not found")

// download copies url to w (at most limit bytes).
func download(ctx context.Context, url string, w io.Writer, limit int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
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

// pushUpdate sends the binary at bin, with its signature, to a box's
// POST /update.
func pushUpdate(ctx context.Context, env *Env, box, token, bin, sig, sum string) error {
	base := strings.TrimSuffix(box, "/")
	switch {
	case strings.HasPrefix(base, "ws://"):
		base = "http://" + strings.TrimPrefix(base, "ws://")
	case strings.HasPrefix(base, "wss://"):
		base = "https://" + strings.TrimPrefix(base, "wss://")
	case !isURL(base):
		base = "http://" + base
	}
	f, err := os.Open(bin)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/update", f)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	if sum != "" {
		req.Header.Set("X-Meshbox-SHA256", sum)
	}
	if sig != "" {
		req.Header.Set(update.SignatureHeader, sig)
	}
	fmt.Fprintf(env.Stdout, "sending %s to %s\n", bin, base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer resp.Body.Close()
	var reply struct {
		Status  string `json:"status"`
		Error   string `json:"error"`
		Version string `json:"version"`
		From    string `json:"from"`
		Signed  bool   `json:"signed"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(raw, &reply); err != nil {
		return fmt.Errorf("update: %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("update refused by the box (%s): %s", resp.Status, reply.Error)
	}
	signed := "unsigned: the box has no update key"
	if reply.Signed {
		signed = "signature verified"
	}
	fmt.Fprintf(env.Stdout, "the box installed meshbox %s (was %s, %s) and is restarting; it rolls back by itself if the new version is not healthy\n",
		reply.Version, reply.From, signed)
	return nil
}
