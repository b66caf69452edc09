package main

// Issue #15's newcomer items, checked where a newcomer meets them: the
// built binary's output, the whole log of a run, the help texts.

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// TestNewcomerBinary runs the built binary as a newcomer does.
func TestNewcomerBinary(t *testing.T) {
	bin := buildMeshbox(t, "newcomer")

	// Item 4: `meshbox qr` (and the page's QR) carry the running box's own
	// port, not the default 8765: the box is started with -listen on a
	// port the kernel picks, the QR is asked for over the control socket
	// by a second process and decoded.
	t.Run("QRCarriesTheBoxPort", func(t *testing.T) {
		state := t.TempDir()
		env := append(os.Environ(), "MESHBOX_STATE_DIR="+state, "MESH_AUTH_TOKEN=newcomer-hub-token-0123456789")
		b := startCredsBox(t, bin, env)
		_, port, err := net.SplitHostPort(b.addr)
		if err != nil || port == "0" || port == "8765" {
			t.Fatalf("box address %q (%v): want a picked port other than the default", b.addr, err)
		}
		wantPort := func(what, raw string) {
			t.Helper()
			u, err := url.Parse(raw)
			if err != nil || u.Port() != port || (u.Scheme != "ws" && u.Scheme != "http") {
				t.Errorf("%s URL %q: want the box's port %s (%v)", what, raw, port, err)
			}
		}
		pngPath := filepath.Join(t.TempDir(), "qr.png")
		out := runCLI(t, bin, env, "qr", "-png", pngPath)
		png, err := os.ReadFile(pngPath)
		if err != nil {
			t.Fatal(err)
		}
		p := credsQR(t, png)
		if p.Token == "" {
			t.Errorf("meshbox qr: payload %+v has no token", p)
		}
		wantPort("meshbox qr's QR", p.URL)
		var printed struct {
			URL string `json:"url"`
		}
		line := lineWith(out, "pairing: ")
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "pairing: ")), &printed); err != nil {
			t.Fatalf("meshbox qr's pairing line %q: %v\n%s", line, err, out)
		}
		wantPort("meshbox qr's pairing line", printed.URL)
		wantPort("meshbox qr's page line", strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(lineWith(out, "page:"), "page:")), "/"))

		code, body := credsReq(t, "GET", "http://"+b.addr+"/pairing.png", "", "")
		if code != 200 {
			t.Fatalf("GET /pairing.png: %d %s", code, body)
		}
		wantPort("the page's QR", credsQR(t, body).URL)
	})

	// `meshbox check` warns about an output that the SoC's default pull
	// switches on in the first second after power-on, naming its GPIO and
	// a free pin that would stay off; outputs the pull keeps off, and one
	// meant to be on at boot, get no such warning.
	t.Run("CheckPowerOnWarning", func(t *testing.T) {
		check := func(outputs string) string {
			t.Helper()
			p := filepath.Join(t.TempDir(), "meshbox.yaml")
			if err := os.WriteFile(p, []byte("name: shed\nboard: pi4\noutputs:\n"+outputs), 0o644); err != nil {
				t.Fatal(err)
			}
			return runCLI(t, bin, os.Environ(), "check", p)
		}
		const warn = "ON for about a second after power-on"
		// GPIO17 is pulled down at power-on: an active-low relay is on.
		out := check("  - {id: door, pin: 17, active_low: true}\n")
		line := lineWith(out, "warning: output door (GPIO17")
		if !strings.Contains(line, warn) || !strings.Contains(line, "pulled down by default") || !strings.Contains(line, "GPIO5 would stay off") {
			t.Errorf("check of an active-low output on GPIO17: no power-on warning naming GPIO17 and GPIO5:\n%s", out)
		}
		if !strings.Contains(out, "ok: 1 output") {
			t.Errorf("a warning is not an error:\n%s", out)
		}
		// GPIO5 is pulled up: an active-high output on it is on; with GPIO9
		// taken, the free pin named is another one pulled down.
		out = check("  - {id: pump, pin: 5}\n  - {id: lamp, pin: 9}\n")
		line = lineWith(out, "warning: output pump (GPIO5")
		if !strings.Contains(line, warn) || !strings.Contains(line, "pulled up by default") || !strings.Contains(line, "GPIO10 would stay off") {
			t.Errorf("check of an active-high output on GPIO5: no power-on warning naming GPIO5 and GPIO10:\n%s", out)
		}
		if strings.Contains(out, "output lamp (GPIO9") {
			t.Errorf("active-high GPIO9 (pulled down: off) warned about:\n%s", out)
		}
		// The pull at the inactive level, or an output meant to be on at
		// boot: no warning.
		out = check("  - {id: door, pin: 5, active_low: true}\n  - {id: fan, pin: 17}\n  - {id: heat, pin: 18, active_low: true, boot: on}\n")
		if strings.Contains(out, warn) {
			t.Errorf("power-on warning for outputs the pull keeps off (or meant to be on):\n%s", out)
		}
	})
}

// lineWith is the first line of out containing s ("" if none).
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// lineWithPrefix is the first line of out starting with s ("" if none).
func lineWithPrefix(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, s) {
			return l
		}
	}
	return ""
}

// structDump matches a Go value printed with %v/%+v in a log line
// ("{Accepted:1 Rejected:0 …}", "&{…}").
var structDump = regexp.MustCompile(`&\{|\{[A-Za-z_]\w*:[^ ]`)

// TestSimExamplesWholeLog runs every example on the simulated board with a
// phone joined, stops it like SIGTERM and checks the whole log, shutdown
// included (item 10): the bridge joins with one line and the phone with
// one; serial devices say they are simulated; nothing fails or redials,
// also not while shutting down; no Go struct dump; the last line is the
// stop line with named counters.
func TestSimExamplesWholeLog(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	if err != nil || len(paths) < 4 {
		t.Fatalf("examples: %v %v", paths, err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			cfg, stop, logs, ph := serveExample(t, path, 5, "newcomer-phone")

			// Run until every serial device was heard (they are open and
			// reading when the box stops), or for a while without any.
			want := map[string]bool{}
			for _, s := range cfg.Serial {
				want[s.ID] = true
			}
			rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer rcancel()
			if len(want) == 0 {
				rcancel()
			}
			for len(want) > 0 {
				f, err := ph.Next(rctx)
				if err != nil {
					t.Errorf("serial devices never heard: %v", want)
					break
				}
				var m map[string]any
				if f.Type == "broadcast" && json.Unmarshal(f.Payload, &m) == nil && m["msg_type"] == "metrics" {
					src, _ := m["source"].(string)
					delete(want, src)
				}
			}
			if err := stop(); err != nil {
				t.Errorf("serve returned %v", err)
			}
			out := strings.TrimRight(logs.String(), "\n")
			lines := strings.Split(out, "\n")
			count := func(subs ...string) int {
				n := 0
			next:
				for _, l := range lines {
					for _, s := range subs {
						if !strings.Contains(l, s) {
							continue next
						}
					}
					n++
				}
				return n
			}
			if n := count(`msg="bridge joined the mesh"`); n != 1 {
				t.Errorf("%d \"bridge joined the mesh\" lines, want 1", n)
			}
			if n := count(`msg="relay: joined"`, "name="+cfg.Name+" "); n != 0 {
				t.Errorf("the relay logs the box's own bridge joining at INFO (%d lines): one join line per member", n)
			}
			if n := count("meshsocket: connected"); n != 0 {
				t.Errorf("%d \"meshsocket: connected\" lines for the in-process bridge", n)
			}
			if n := count(`msg="relay: joined"`, "name=newcomer-phone"); n != 1 {
				t.Errorf("%d join lines for the phone, want 1", n)
			}
			if n := count("serial device open"); n != len(cfg.Serial) {
				t.Errorf("%d \"serial device open\" lines for %d serial devices", n, len(cfg.Serial))
			}
			if n := count("serial device open", "simulated port"); n != len(cfg.Serial) {
				t.Errorf("a serial device on the simulated board is logged as a real device")
			}
			for _, bad := range []string{"serial device failed", "sensor failed", "EOF", "redialing", "apply-layout failed", "level=ERROR", "panic"} {
				if l := lineWith(out, bad); l != "" {
					t.Errorf("log has %q: %s", bad, l)
				}
			}
			for _, l := range lines {
				if structDump.MatchString(l) {
					t.Errorf("a Go struct dump in the log: %s", l)
				}
			}
			last := lines[len(lines)-1]
			if !strings.Contains(last, "msg=stopped") || !strings.Contains(last, " accepted=") || !strings.Contains(last, " frames_in=") {
				t.Errorf("last line %q: want the stop line with named counters", last)
			}
		})
	}
}

// TestClientHelpAgreesWithUsage (item 13): for every client command, the
// synopsis in `meshbox help`, the usage line of `meshbox CMD -h` and the
// one a missing argument prints are the same; the flag list shows every
// default (a value, or where it comes from).
func TestClientHelpAgreesWithUsage(t *testing.T) {
	help, _, err := runCmd(t, "help")
	if err != nil {
		t.Fatal(err)
	}
	timeouts := map[string]string{"send": "5s", "request": "5s", "listen": "10s", "set": "5s", "sim": "5s", "nodes": "5s"}
	for cmd, timeout := range timeouts {
		t.Run(cmd, func(t *testing.T) {
			out, stderr, err := runCmd(t, cmd, "-h")
			if err != nil || stderr != "" {
				t.Fatalf("meshbox %s -h = %v, stderr %q", cmd, err, stderr)
			}
			usage, _, _ := strings.Cut(out, "\n")
			if !strings.HasPrefix(usage, "usage: meshbox "+cmd+" ") {
				t.Fatalf("meshbox %s -h starts with %q", cmd, usage)
			}
			// The usage a missing argument prints is the one -h prints.
			_, _, err = runCmd(t, cmd)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), usage) {
				t.Errorf("meshbox %s (no argument) = %v; want exit 2 with %q", cmd, err, usage)
			}
			// `meshbox help`'s synopsis: the same forms, the same words.
			summary := lineWithPrefix(help, "  "+cmd+" ")
			_, syn, ok := strings.Cut(summary, ": ")
			if !ok {
				t.Fatalf("meshbox help has no synopsis for %s: %q", cmd, summary)
			}
			if got, want := synopsisForms(syn, ", "), synopsisForms(usageForms(usage), " | "); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("meshbox help says %q, meshbox %s -h says %q", got, cmd, want)
			}
			for flag, def := range map[string]string{
				"--timeout": "(default " + timeout + ")", "--role": "(default node)",
				"--channel": "(default $MESH_CHANNEL, else \"" + config.DefaultChannel + "\"", "--token": "(default $MESH_AUTH_TOKEN)",
				"--name": "(default meshbox-cli-", "--key": "(default $MESH_E2EE_KEY)",
			} {
				if l := lineWith(out, "  "+flag+" "); !strings.Contains(l, def) {
					t.Errorf("meshbox %s -h: %s shows no default %q: %q", cmd, flag, def, l)
				}
			}
		})
	}
}

// usageForms strips "usage: meshbox ", the flags and a trailing note from
// a usage line; the forms stay joined by " | ".
func usageForms(usage string) string {
	s := strings.TrimPrefix(usage, "usage: ")
	if i := strings.Index(s, "   ("); i >= 0 {
		s = s[:i]
	}
	s = strings.ReplaceAll(strings.TrimSpace(s), " [flags]", "")
	return strings.ReplaceAll(s, "meshbox ", "")
}

// synopsisForms splits a synopsis into its forms.
func synopsisForms(s, sep string) []string {
	var forms []string
	for _, f := range strings.Split(s, sep) {
		forms = append(forms, strings.Join(strings.Fields(f), " "))
	}
	return forms
}

// TestPageWarningsOneLineEach (item 9): a real wiring on a machine without
// a GPIO chip and a relay on loopback give the page two warnings; the box
// hands them over one per line (the banner shows each on its own line,
// internal/page's TestBrowserNewcomerGaugeAndWarnings), not joined by ";".
func TestPageWarningsOneLineEach(t *testing.T) {
	if m, _ := filepath.Glob("/dev/gpiochip*"); len(m) > 0 {
		t.Skip("this machine has a GPIO chip: without -sim the box would drive it")
	}
	const token = "two-warnings-token"
	addr, _, _ := startServe(t, map[string]string{"MESH_AUTH_TOKEN": token},
		"-config", filepath.Join("..", "..", "examples", "relays.yaml"), "-listen", "127.0.0.1:0")
	_, body := httpGet(t, "http://"+addr+"/api/session", token)
	var s struct {
		Warning string `json:"warning"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("/api/session: %v: %s", err, body)
	}
	got := strings.Split(s.Warning, "\n")
	if len(got) != 2 || !strings.HasPrefix(got[0], "the relay listens on 127.0.0.1 only") || !strings.HasPrefix(got[1], "no GPIO chip was found") {
		t.Fatalf("page warning %q: want the loopback and the simulated-hardware warnings, one per line", s.Warning)
	}
}
