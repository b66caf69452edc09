package main

// The pairing and credential commands: "meshbox pair", "meshbox qr",
// "meshbox tokens" and "meshbox owner-token". pair, qr and tokens talk to
// the running box over its control socket (<state dir>/control/meshbox.sock,
// reachable by root and the service user only); owner-token reads the
// state directory.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshbox/meshbox/internal/auth"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/pairing"
)

// pairCmd opens the pairing window of the running box (or mints a viewer
// token) and prints the QR.
func pairCmd(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("pair", flag.ContinueOnError)
	path := fs.String("config", config.DefaultPath, "config `file` of the running box (for its state directory)")
	viewer := fs.Bool("viewer", false, "mint a read-only (viewer) token instead of opening the window")
	label := fs.String("label", "", "label of the viewer token (with -viewer)")
	closeW := fs.Bool("close", false, "close the pairing window instead")
	pngFile := fs.String("png", "", "also write the QR code as a PNG image to `FILE` (mode 0600)")
	invert := fs.Bool("invert", false, "draw dark modules (for terminals with a light background)")
	if err := parseFlags(env, fs, args, "usage: sudo meshbox pair [-viewer [-label L]] [-close] [-png FILE] [-invert] [-config PATH]",
		"Opens the pairing window of the running box and prints the QR (a controller token; -viewer: a read-only one)."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("pair: unexpected argument %q", fs.Arg(0)))
	}
	req := pairing.Request{Op: "pair"}
	switch {
	case *closeW:
		req.Op = "close"
	case *viewer:
		req = pairing.Request{Op: "viewer", Label: *label}
	}
	resp, err := control(ctx, env, *path, req)
	if err != nil {
		return err
	}
	if req.Op == "close" {
		fmt.Fprintln(env.Stdout, "pairing closed")
		return nil
	}
	return printQR(env, resp, *pngFile, *invert)
}

// qrCmd prints the QR of the open pairing window again.
func qrCmd(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("qr", flag.ContinueOnError)
	path := fs.String("config", config.DefaultPath, "config `file` of the running box (for its state directory)")
	pngFile := fs.String("png", "", "also write the QR code as a PNG image to `FILE` (mode 0600)")
	invert := fs.Bool("invert", false, "draw dark modules (for terminals with a light background)")
	if err := parseFlags(env, fs, args, "usage: sudo meshbox qr [-png FILE] [-invert] [-config PATH]",
		"Prints the QR of the open pairing window again (sudo meshbox pair opens it)."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("qr: unexpected argument %q", fs.Arg(0)))
	}
	resp, err := control(ctx, env, *path, pairing.Request{Op: "qr"})
	if err != nil {
		return err
	}
	return printQR(env, resp, *pngFile, *invert)
}

// tokensCmd lists the phone tokens of the running box, or revokes one.
func tokensCmd(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("tokens", flag.ContinueOnError)
	path := fs.String("config", config.DefaultPath, "config `file` of the running box (for its state directory)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(env, fs, args, "usage: sudo meshbox tokens [-json] [-config PATH]",
		"       sudo meshbox tokens revoke ID"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	req := pairing.Request{Op: "tokens"}
	switch {
	case fs.NArg() == 0:
	case fs.NArg() == 2 && fs.Arg(0) == "revoke":
		req = pairing.Request{Op: "revoke", ID: fs.Arg(1)}
	default:
		return usageError("tokens: want no argument, or revoke ID (meshbox tokens -h)")
	}
	resp, err := control(ctx, env, *path, req)
	if err != nil {
		return err
	}
	if req.Op == "revoke" {
		fmt.Fprintf(env.Stdout, "revoked %s (%s, %s); a phone using it is disconnected\n", resp.Token.ID, resp.Token.Scope, resp.Token.Label)
		return nil
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(resp.Tokens)
	}
	if len(resp.Tokens) == 0 {
		fmt.Fprintln(env.Stdout, "no phone tokens (sudo meshbox pair opens pairing)")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSCOPE\tLABEL\tCREATED\tLAST SEEN")
	for _, t := range resp.Tokens {
		seen := "never"
		if !t.LastSeen.IsZero() {
			seen = t.LastSeen.Local().Format("2006-01-02 15:04")
		}
		label := t.Label
		if t.Pending {
			label += " (not used yet)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Scope, label, t.Created.Local().Format("2006-01-02 15:04"), seen)
	}
	return tw.Flush()
}

// ownerTokenCmd prints the owner credential.
func ownerTokenCmd(_ context.Context, env *Env, args []string) error {
	fl := flag.NewFlagSet("owner-token", flag.ContinueOnError)
	path := fl.String("config", config.DefaultPath, "config `file` of the box (for its state directory)")
	if err := parseFlags(env, fl, args, "usage: sudo meshbox owner-token [-config PATH]",
		"Prints the owner credential (the owner's page, meshbox update). It is never in a QR, a layout or a log."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fl.NArg() > 0 {
		return usageError(fmt.Sprintf("owner-token: unexpected argument %q", fl.Arg(0)))
	}
	dirs, err := cliStateDirs(env, *path)
	if err != nil {
		return err
	}
	var firstErr error
	for _, d := range dirs {
		tok, err := auth.ReadOwnerToken(d)
		if err == nil {
			fmt.Fprintln(env.Stdout, tok)
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = err
		}
	}
	if errors.Is(firstErr, fs.ErrPermission) {
		return fmt.Errorf("%w (run it as root: sudo meshbox owner-token)", firstErr)
	}
	if firstErr != nil {
		return firstErr
	}
	return fmt.Errorf("no owner credential in %s yet: start meshbox once (it generates one), or set it at flash time (flash.sh --owner-token)",
		filepath.Join(dirs[0], auth.OwnerTokenFile))
}

// cliStateDirs lists where the box's state directory may be (serve's
// order, serve_state.go).
func cliStateDirs(env *Env, path string) ([]string, error) {
	cfg, err := loadConfigOrDemo(path, path == config.DefaultPath)
	if err != nil {
		return nil, err
	}
	return stateDirs(env.Getenv, cfg), nil
}

// control sends req to the running box: the first state directory with a
// control socket.
func control(ctx context.Context, env *Env, path string, req pairing.Request) (pairing.Response, error) {
	dirs, err := cliStateDirs(env, path)
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
func printQR(env *Env, resp pairing.Response, pngFile string, invert bool) error {
	if resp.Pairing == nil {
		return errors.New("the box sent no pairing payload")
	}
	p := *resp.Pairing
	q, err := pairing.NewQR(p.JSON())
	if err != nil {
		return err
	}
	printPairing(env, q, p, invert)
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

// printPairing writes the console QR, the payload and the page address.
func printPairing(env *Env, q *pairing.QR, p pairing.Payload, invert bool) {
	fmt.Fprint(env.Stdout, q.Text(invert))
	fmt.Fprintf(env.Stdout, "pairing: %s\n", p.JSON())
	fmt.Fprintf(env.Stdout, "page:    %s/\n", pairing.HTTPURL(p.URL))
	switch {
	case p.Token == "":
		fmt.Fprintln(env.Stdout, "token:   none (open relay)")
	default:
		fmt.Fprintf(env.Stdout, "token:   %s (%s)\n", p.Token, strings.TrimSpace(p.Role))
	}
	if p.K != "" {
		fmt.Fprintf(env.Stdout, "e2ee:    room key %s\n", p.K)
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
