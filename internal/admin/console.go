package admin

// What the console commands share: the running box's control socket, found
// through its config, and the printed pairing QR.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/meshbox/meshbox/internal/cli"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/statedir"
)

// stateDirs lists where the box's state directory may be, in serve's
// order (internal/statedir), for the box configured by path.
func stateDirs(env cli.IO, path string) ([]string, error) {
	cfg, err := loadConfigOrDemo(path, path == config.DefaultPath)
	if err != nil {
		return nil, err
	}
	return statedir.Candidates(env.Getenv, cfg), nil
}

// control sends req to the running box: the first state directory with a
// control socket.
func control(ctx context.Context, env cli.IO, path string, req pairing.Request) (pairing.Response, error) {
	dirs, err := stateDirs(env, path)
	if err != nil {
		return pairing.Response{}, err
	}
	dir := dirs[0]
	for _, d := range dirs {
		if _, err := os.Lstat(pairing.ControlPath(d)); err == nil || errors.Is(err, fs.ErrPermission) {
			dir = d
			break
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return pairing.CallControl(cctx, dir, req)
}

// printQR writes the console QR, the payload, the page address and the
// closing time, and the PNG when asked for.
func printQR(env cli.IO, resp pairing.Response, pngFile string, invert bool) error {
	if resp.Pairing == nil {
		return errors.New("the box sent no pairing payload")
	}
	p := *resp.Pairing
	q, err := pairing.NewQR(p.JSON())
	if err != nil {
		return err
	}
	PrintPairing(env.Stdout, q, p, invert)
	if !resp.Until.IsZero() && p.Role == pairing.DefaultRole {
		fmt.Fprintf(env.Stdout, "open until %s (a new token for every phone: scan, then run `meshbox qr` for the next)\n",
			resp.Until.Local().Format("15:04:05"))
	}
	if resp.Warning != "" {
		fmt.Fprintln(env.Stderr, "warning: "+resp.Warning)
	}
	if pngFile != "" {
		img, err := q.PNG(512)
		if err != nil {
			return err
		}
		// The image carries a member token: readable by the owner only.
		if err := os.WriteFile(pngFile, img, 0o600); err != nil {
			return fmt.Errorf("qr: %w", err)
		}
		fmt.Fprintf(env.Stdout, "wrote %s\n", pngFile)
	}
	return nil
}

// PrintPairing writes the console QR, the payload and the page address
// (also serve's banner on a terminal).
func PrintPairing(w io.Writer, q *pairing.QR, p pairing.Payload, invert bool) {
	fmt.Fprint(w, q.Text(invert))
	fmt.Fprintf(w, "pairing: %s\n", p.JSON())
	fmt.Fprintf(w, "page:    %s/\n", pairing.HTTPURL(p.URL))
	switch {
	case p.Token == "":
		fmt.Fprintln(w, "token:   none (open relay)")
	default:
		fmt.Fprintf(w, "token:   %s (%s)\n", p.Token, strings.TrimSpace(p.Role))
	}
	if p.K != "" {
		fmt.Fprintf(w, "e2ee:    room key %s\n", p.K)
	}
}

// loadConfigOrDemo loads path; when the file is missing and optional (the
// default path), it returns the built-in demo.
func loadConfigOrDemo(path string, optional bool) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err == nil {
		return cfg, nil
	}
	if optional && errors.Is(err, fs.ErrNotExist) {
		return config.Demo(), nil
	}
	return nil, err
}
