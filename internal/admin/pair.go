package admin

// The pairing commands: "meshbox pair", "meshbox qr" and "meshbox tokens".
// They talk to the running box over its control socket (<state
// dir>/control/meshbox.sock, reachable by root and the service user only).

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/meshbox/meshbox/internal/cli"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/pairing"
)

// Pair opens the pairing window of the running box (or mints a viewer
// token) and prints the QR.
func Pair(ctx context.Context, env cli.IO, args []string) error {
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
		return usageErr(fmt.Sprintf("pair: unexpected argument %q", fs.Arg(0)))
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

// QR prints the QR of the open pairing window again.
func QR(ctx context.Context, env cli.IO, args []string) error {
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
		return usageErr(fmt.Sprintf("qr: unexpected argument %q", fs.Arg(0)))
	}
	resp, err := control(ctx, env, *path, pairing.Request{Op: "qr"})
	if err != nil {
		return err
	}
	return printQR(env, resp, *pngFile, *invert)
}

// Tokens lists the phone tokens of the running box, or revokes one.
func Tokens(ctx context.Context, env cli.IO, args []string) error {
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
		return usageErr("tokens: want no argument, or revoke ID (meshbox tokens -h)")
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
