package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// lockedBuf collects a child's output.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// credsBox is one meshbox child process on the simulated board.
type credsBox struct {
	cmd    *exec.Cmd
	logs   *lockedBuf
	addr   string        // 127.0.0.1:PORT
	exited chan struct{} // closed once the process was reaped
}

var servingRE = regexp.MustCompile(`msg="meshbox serving".* listen=(127\.0\.0\.1:\d+)`)

func startCredsBox(t *testing.T, bin string, env []string) *credsBox {
	t.Helper()
	b := &credsBox{logs: &lockedBuf{}}
	b.cmd = exec.Command(bin, "-sim", "-listen", "127.0.0.1:0")
	b.cmd.Env = env
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	b.cmd.WaitDelay = 2 * time.Second
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	b.exited = exited
	go func() { _ = b.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = b.cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(b.logs.String()); m != nil {
			b.addr = m[1]
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b.addr == "" {
		t.Fatalf("meshbox did not start serving:\n%s", b.logs)
	}
	for time.Now().Before(deadline) {
		if code, _ := credsReq(t, "GET", "http://"+b.addr+"/healthz", "", ""); code == 200 {
			return b
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("meshbox never healthy:\n%s", b.logs)
	return nil
}

// kill9 kills the child the hard way (no exit states, no shutdown).
func (b *credsBox) kill9(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("meshbox did not die on SIGKILL")
	}
}

func credsReq(t *testing.T, method, url, bearer, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func credsQR(t *testing.T, b []byte) pairing.Payload {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG (%v): %s", err, b)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	var p pairing.Payload
	if err := json.Unmarshal([]byte(res.GetText()), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// cli runs a meshbox subcommand as its own process.
func runCLI(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("meshbox %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestE2EPairingSurvivesKill9 is issue #12's end-to-end case with the real
// binary: first start opens pairing, a phone pairs over a real WebSocket
// with the QR's controller token, the window closes (`meshbox pair
// -close`), the box is killed with SIGKILL and started again: pairing stays
// closed, no token is handed out anywhere (/, /api/session, /layout.json,
// /pairing.png, /metrics, the logs), the paired phone still works, and its
// token opens no owner endpoint. Findings 1 and 9 fail on the old code here.
func TestE2EPairingSurvivesKill9(t *testing.T) {
	bin := buildMeshbox(t, "creds-e2e")
	state := t.TempDir()
	const hub = "e2e-hub-token-0123456789"
	env := append(os.Environ(), "MESHBOX_STATE_DIR="+state, "MESH_AUTH_TOKEN="+hub, "MESHBOX_LOG_LEVEL=debug")
	box1 := startCredsBox(t, bin, env)
	base := "http://" + box1.addr

	// First start: pairing is open; the QR carries a controller token.
	code, body := credsReq(t, "GET", base+"/pairing.png", "", "")
	if code != 200 {
		t.Fatalf("pairing.png at first start: %d %s", code, body)
	}
	qr := credsQR(t, body)
	if qr.Token == "" || qr.Token == hub || qr.Role != "controller" {
		t.Fatalf("QR payload %+v: want a controller token minted for pairing", qr)
	}
	phoneTok := qr.Token
	phone := phonetest.Dial(t, "ws://"+box1.addr+"/", phonetest.App("alice-phone", phoneTok))
	phone.CmdAck("lamp", true, "e2e-1")
	if ack := phone.ExpectAck("e2e-1", 10*time.Second); ack["ok"] != true {
		t.Fatalf("paired phone's command: %v", ack)
	}
	phone.Close()
	_, sess := credsReq(t, "GET", base+"/api/session", "", "")
	var s struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(sess, &s)
	pageTok := s.Token // minted for a page while pairing is open; never used

	// The window closes from the console.
	if out := runCLI(t, bin, env, "pair", "-close"); !strings.Contains(out, "pairing closed") {
		t.Fatalf("pair -close: %s", out)
	}
	owner := strings.TrimSpace(runCLI(t, bin, env, "owner-token"))
	if len(owner) < 16 {
		t.Fatalf("owner-token printed %q", owner)
	}

	box1.kill9(t)
	box2 := startCredsBox(t, bin, env)
	base = "http://" + box2.addr
	secrets := map[string]string{"hub token": hub, "phone token": phoneTok, "owner credential": owner}
	if pageTok != "" {
		secrets["unused page token"] = pageTok
	}
	noSecret := func(what string, b []byte) {
		t.Helper()
		for name, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("%s carries the %s", what, name)
			}
		}
	}
	// Nothing without a credential gets a token or the wiring.
	for _, c := range []struct {
		path string
		want int
	}{{"/", 200}, {"/api/session", 401}, {"/layout.json", 401}, {"/pairing.png", 403}, {"/metrics", 200}, {"/healthz", 200}} {
		code, body := credsReq(t, "GET", base+c.path, "", "")
		if code != c.want {
			t.Errorf("GET %s after the restart: %d, want %d: %s", c.path, code, c.want, body)
		}
		noSecret("GET "+c.path, body)
		if c.path == "/layout.json" && bytes.Contains(body, []byte("lamp")) {
			t.Errorf("/layout.json shows the wiring without a token: %s", body)
		}
		if c.path == "/metrics" && bytes.Contains(body, []byte("pairing")) {
			t.Errorf("/metrics tells the LAN about pairing:\n%s", body)
		}
		if c.path == "/api/session" && bytes.Contains(body, []byte(`"open":true`)) {
			t.Errorf("pairing reopened by the restart: %s", body)
		}
	}
	if strings.Contains(box2.logs.String(), "pairing open at boot") {
		t.Error("the restart opened pairing")
	}
	// An unused pairing token from before the restart is dead.
	if pageTok != "" {
		if _, err := phonetest.TryDial(t, "ws://"+box2.addr+"/", phonetest.App("ghost", pageTok)); err == nil {
			t.Error("an unused pairing token works after the window closed")
		}
	}

	// The paired phone still works.
	phone = phonetest.Dial(t, "ws://"+box2.addr+"/", phonetest.App("alice-phone", phoneTok))
	phone.CmdAck("lamp", false, "e2e-2")
	if ack := phone.ExpectAck("e2e-2", 10*time.Second); ack["ok"] != true {
		t.Fatalf("paired phone after kill -9: %v", ack)
	}
	if code, body := credsReq(t, "GET", base+"/layout.json", phoneTok, ""); code != 200 || !bytes.Contains(body, []byte("lamp")) {
		t.Fatalf("layout.json for the paired phone: %d", code)
	}

	// Its token reads the history like any member's (when history is on).
	if code, body := credsReq(t, "GET", base+"/api/history?series=climate_temperature", phoneTok, ""); code == 401 || code == 403 {
		t.Errorf("paired phone on /api/history: %d %s", code, body)
	}
	// A phone token opens no owner endpoint; the owner credential does.
	if code, _ := credsReq(t, "POST", base+"/api/owner", phoneTok, `{"op":"tokens"}`); code != 403 {
		t.Errorf("phone token on /api/owner: %d, want 403", code)
	}
	if code, _ := credsReq(t, "POST", base+"/update", phoneTok, "x"); code != 401 && code != 403 {
		t.Errorf("phone token on /update: %d, want 401/403", code)
	}
	code, body = credsReq(t, "POST", base+"/api/owner", owner, `{"op":"tokens"}`)
	var list pairing.Response
	if err := json.Unmarshal(body, &list); err != nil || code != 200 || len(list.Tokens) != 1 || list.Tokens[0].Scope.String() != "controller" {
		t.Fatalf("owner token list: %d %s", code, body)
	}
	noSecret("the owner's token list", bytes.ReplaceAll(body, []byte(owner), nil))
	// `meshbox tokens` shows it, labelled with the name the phone
	// identified with; revoking it disconnects the phone.
	if list.Tokens[0].Label != "alice-phone · phone (pairing QR)" {
		t.Errorf("the paired phone's token label %q: want its name", list.Tokens[0].Label)
	}
	if out := runCLI(t, bin, env, "tokens"); !strings.Contains(out, list.Tokens[0].ID) || !strings.Contains(out, "controller") || !strings.Contains(out, "alice-phone") {
		t.Fatalf("meshbox tokens:\n%s", out)
	}
	runCLI(t, bin, env, "tokens", "revoke", list.Tokens[0].ID)
	var ce *websocket.CloseError
	if err := phone.WaitClosed(10 * time.Second); !errors.As(err, &ce) || ce.Code != 1008 {
		t.Errorf("the revoked phone is not closed 1008: %v", err)
	}
	if _, err := phonetest.TryDial(t, "ws://"+box2.addr+"/", phonetest.App("alice-phone", phoneTok)); err == nil {
		t.Error("a revoked token still joins")
	}

	// A viewer minted on the console: read-only.
	out := runCLI(t, bin, env, "pair", "-viewer", "-label", "kitchen tablet")
	m := regexp.MustCompile(`(?m)^pairing: (\{.*\})$`).FindStringSubmatch(out)
	var vp pairing.Payload
	if m == nil || json.Unmarshal([]byte(m[1]), &vp) != nil || vp.Role != "viewer" || vp.Token == "" {
		t.Fatalf("pair -viewer:\n%s", out)
	}
	viewer := phonetest.Dial(t, "ws://"+box2.addr+"/", phonetest.Options{Name: "tablet", Token: vp.Token, Channel: "home", Role: "viewer",
		Flags: map[string]any{"can_broadcast": true}})
	viewer.CmdAck("lamp", true, "e2e-v")
	if ack := viewer.ExpectAck("e2e-v", 10*time.Second); ack["ok"] != false || ack["error"] != "read-only" {
		t.Errorf("viewer command: %v, want ok:false read-only", ack)
	}
	secrets["viewer token"] = vp.Token // printed on the console by design, never logged

	// No secret in either run's log.
	noSecret("the log of the first run", []byte(box1.logs.String()))
	noSecret("the log of the second run", []byte(box2.logs.String()))
	if t.Failed() {
		t.Logf("first run:\n%s\nsecond run:\n%s", box1.logs, box2.logs)
	}
	if fi, err := os.Stat(filepath.Join(state, "credentials.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials.json: %v %v", fi, err)
	}
}
