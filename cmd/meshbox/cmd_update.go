package main

// Owned by the appliance engineer: "meshbox update URL|FILE".

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
// Rollback of an update that does not come up healthy is automatic; see
// internal/update.
func updateCmd(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	sum := fs.String("sha256", "", "expected SHA-256 of the new binary (hex)")
	state := fs.String("state", "/var/lib/meshbox", "state directory of the local box")
	restart := fs.Bool("restart", true, "restart meshbox.service after a local install")
	box := fs.String("box", "", "push to a running box instead: http://HOST:8765")
	token := fs.String("token", "", "relay token for -box (default $MESH_AUTH_TOKEN)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := parseFlags(env, fs, args,
		"usage: meshbox update [-sha256 HEX] [-state DIR] [-restart=false] URL|FILE",
		"       meshbox update -box http://HOST:8765 [-token T] [-sha256 HEX] URL|FILE"); err != nil {
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
	if *box != "" {
		tok := *token
		if tok == "" && env.Getenv != nil {
			tok = env.Getenv("MESH_AUTH_TOKEN")
		}
		return pushUpdate(ctx, env, *box, tok, src, *sum)
	}

	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	u := &update.Updater{Layout: update.Layout{StateDir: *state}, Version: version, Logger: logger}
	fmt.Fprintf(env.Stdout, "installing %s into %s\n", src, u.Layout.BinDir())
	inst, err := u.InstallFrom(ctx, src, *sum)
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w (run with sudo, or push over the LAN: meshbox update -box http://HOST:8765 %s)", err, src)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "installed meshbox %s (sha256 %s, %d bytes) as %s\n", inst.Version, inst.SHA256, inst.Size, inst.Path)
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

// pushUpdate sends the binary (or, for a URL, the URL) to a box's POST /update.
func pushUpdate(ctx context.Context, env *Env, box, token, src, sum string) error {
	if token == "" {
		return usageError("update -box needs the relay token: -token or MESH_AUTH_TOKEN")
	}
	base := strings.TrimSuffix(box, "/")
	switch {
	case strings.HasPrefix(base, "ws://"):
		base = "http://" + strings.TrimPrefix(base, "ws://")
	case strings.HasPrefix(base, "wss://"):
		base = "https://" + strings.TrimPrefix(base, "wss://")
	case !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://"):
		base = "http://" + base
	}
	var (
		body  io.Reader
		ctype string
	)
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		b, err := json.Marshal(map[string]string{"url": src, "sha256": sum})
		if err != nil {
			return err
		}
		body, ctype = bytes.NewReader(b), "application/json"
	} else {
		f, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		defer f.Close()
		body, ctype = f, "application/octet-stream"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/update", body)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ctype)
	if sum != "" {
		req.Header.Set("X-Meshbox-SHA256", sum)
	}
	fmt.Fprintf(env.Stdout, "sending %s to %s\n", src, base)
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
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(raw, &reply); err != nil {
		return fmt.Errorf("update: %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("update refused by the box (%s): %s", resp.Status, reply.Error)
	}
	fmt.Fprintf(env.Stdout, "the box installed meshbox %s (was %s) and is restarting; it rolls back by itself if the new version is not healthy\n",
		reply.Version, reply.From)
	return nil
}
