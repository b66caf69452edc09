package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/meshbox/meshbox/internal/logtest"
)

// signFile signs the file at path with priv.
func signFile(t *testing.T, priv ed25519.PrivateKey, path string) string {
	t.Helper()
	sig, err := Sign(priv, bytes.NewReader(mustRead(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	return sig.String()
}

// TestSignedUpdates: a box with an update key refuses unsigned and
// mis-signed binaries before running anything (finding 2: the version
// probe used to run the upload first). The binary under test creates a
// marker file whenever it runs.
func TestSignedUpdates(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain to build the test binaries")
	}
	ctx := context.Background()
	dir := t.TempDir()
	marker := filepath.Join(dir, "it-ran")
	evil := buildFakeboxMarker(t, dir, "7.0.0", "", marker)
	other := buildFakebox(t, dir, "2.0.0", "")

	pub, priv, _ := GenerateKey(rand.Reader)
	_, priv2, _ := GenerateKey(rand.Reader)
	keyFile := filepath.Join(dir, "update.pub")
	if err := os.WriteFile(keyFile, MarshalPublicKey(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	u := newUpdater(t, "1.0.0")
	u.KeyFile = keyFile
	l := u.Layout
	untouched := func(what string) {
		t.Helper()
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s: the refused binary ran (%s exists: %q)", what, marker, mustRead(t, marker))
		}
		if exists(l.Current()) || exists(l.Incoming()) || exists(l.PendingFile()) {
			t.Fatalf("%s: refused, but the bin directory changed", what)
		}
	}
	refused := []struct {
		name, sig, want string
	}{
		{"unsigned", "", "installs only signed binaries"},
		{"signed for another binary", signFile(t, priv, other), "does not verify"},
		{"signed with another key", signFile(t, priv2, evil), "this box trusts key " + KeyID(pub)},
		{"garbage signature", "meshbox-sig-v1 nope", "not a meshbox signature"},
	}
	for _, c := range refused {
		_, err := u.InstallFrom(ctx, evil, Check{Signature: c.sig})
		if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want ErrSignature saying %q", c.name, err, c.want)
		}
		untouched(c.name)
	}

	// A key file that cannot be parsed refuses everything (fail closed).
	if err := os.WriteFile(keyFile, []byte("not a key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := u.InstallFrom(ctx, evil, Check{Signature: signFile(t, priv, evil)}); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "cannot be read") {
		t.Errorf("broken key file: %v", err)
	}
	untouched("broken key file")
	os.WriteFile(keyFile, MarshalPublicKey(pub), 0o644)

	// Over HTTP: the uploader gets the reason, the journal logs it.
	logs := logtest.New(t)
	srv := httptest.NewServer(Handler(HandlerOptions{Updater: u, Logger: logs.Logger(),
		Authorize: BearerAuthorizer(func() string { return "owner" })}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/update", bytes.NewReader(mustRead(t, evil)))
	req.Header.Set("Authorization", "Bearer owner")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body.String(), "installs only signed binaries") {
		t.Errorf("unsigned POST /update: %d %s", resp.StatusCode, body.String())
	}
	if got := logs.Matching("update refused", "only signed"); len(got) != 1 {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}
	untouched("unsigned over HTTP")

	// Correctly signed: installed, and only now does it run (the probe):
	// the marker proves the test binary would have shown a run.
	inst, err := u.InstallFrom(ctx, evil, Check{Signature: signFile(t, priv, evil)})
	if err != nil || !inst.Signed || inst.Version != "7.0.0" {
		t.Fatalf("signed install: %+v %v", inst, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the accepted binary's version probe did not run it: %v", err)
	}
}

// TestUnsafeDirectories: staging refuses a bin directory that is a
// symbolic link or a state directory others can write.
func TestUnsafeDirectories(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "bin")
	os.WriteFile(src, []byte("\x7fELF"), 0o755)

	u := newUpdater(t, "1.0.0")
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, u.Layout.BinDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := u.InstallFrom(ctx, src, Check{}); !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("bin as a symlink: %v", err)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("files written through the bin symlink: %v", ents)
	}

	u = newUpdater(t, "1.0.0")
	if err := os.Chmod(u.Layout.StateDir, 0o770); err != nil {
		t.Fatal(err)
	}
	if _, err := u.InstallFrom(ctx, src, Check{}); !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("group-writable state dir: %v", err)
	}
	if exists(u.Layout.BinDir()) {
		t.Error("bin directory created in an unsafe state directory")
	}
	// Boot does not run an update from such a directory either.
	os.Chmod(u.Layout.StateDir, 0o700)
	os.Mkdir(u.Layout.BinDir(), 0o777)
	os.Chmod(u.Layout.BinDir(), 0o777)
	os.WriteFile(u.Layout.Current(), []byte("x"), 0o755)
	if plan, err := u.Boot(ctx, "/nonexistent", false); err != nil || plan.Exec != "" {
		t.Errorf("boot from a world-writable bin dir: %+v %v", plan, err)
	}
}

// attackerUID is the unprivileged user that owns the state directory in
// TestRootInstallSymlinkSwap, like user meshbox on a box.
const attackerUID = 65534

// TestRootInstallSymlinkSwap is finding 3: "sudo meshbox update" as root
// while an unprivileged owner of the state directory (the service user)
// plants symbolic links and swaps the staged file at the worst moment.
// Root must never write through a link, run the attacker's file, or
// install it.
func TestRootInstallSymlinkSwap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the install runs as root and the attacker as uid 65534 (syscall.Credential)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain to build the test binaries")
	}
	ctx := context.Background()
	r := buildReleases(t)

	base, err := os.MkdirTemp("", "meshbox-root-update-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(base, 0o755))
	victim := filepath.Join(base, "victim") // e.g. /etc/shadow
	must(os.WriteFile(victim, []byte("precious\n"), 0o644))
	victimDir := filepath.Join(base, "victimdir") // e.g. /etc/cron.d
	must(os.Mkdir(victimDir, 0o755))
	markDir := filepath.Join(base, "marks")
	must(os.Mkdir(markDir, 0o777))
	must(os.Chmod(markDir, 0o777))
	marker := filepath.Join(markDir, "attacker-code-ran")
	evil := filepath.Join(base, "evil.sh")
	must(os.WriteFile(evil, []byte("#!/bin/sh\nid -u > "+marker+"\necho meshbox 6.6.6\n"), 0o755))

	newState := func(name string) *Updater {
		t.Helper()
		state := filepath.Join(base, name)
		must(os.Mkdir(state, 0o750))
		must(os.Chown(state, attackerUID, attackerUID))
		return &Updater{Layout: Layout{StateDir: state}, Version: "1.0.0", GOARCH: goEnv(t, "GOHOSTARCH")}
	}
	// asAttacker runs a shell script as the unprivileged owner.
	asAttacker := func(dir, script string) {
		t.Helper()
		cmd := exec.Command("/bin/sh", "-c", "id -u; "+script)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: attackerUID, Gid: attackerUID, Groups: []uint32{}}}
		out, err := cmd.CombinedOutput()
		if err != nil && strings.Contains(err.Error(), "operation not permitted") {
			t.Skipf("cannot drop privileges to uid %d here: %v", attackerUID, err)
		}
		if err != nil || !strings.HasPrefix(string(out), "65534\n") {
			t.Fatalf("attacker script %q: %v\n%s", script, err, out)
		}
	}
	safe := func(what string) {
		t.Helper()
		if got := string(mustRead(t, victim)); got != "precious\n" {
			t.Fatalf("%s: root wrote through a link: victim now %q", what, got)
		}
		if ents, _ := os.ReadDir(victimDir); len(ents) != 0 {
			t.Fatalf("%s: root created files in the victim directory: %v", what, ents)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s: the attacker's file was run (uid %s)", what, strings.TrimSpace(string(mustRead(t, marker))))
		}
	}

	t.Run("planted links", func(t *testing.T) {
		u := newState("planted")
		l := u.Layout
		asAttacker(l.StateDir, "mkdir -m 750 bin && ln -s "+victim+" bin/meshbox.new && ln -s "+victim+" update-pending.json.tmp && ln -s "+victim+" update-pending.json")
		inst, err := u.InstallFrom(ctx, r.v2, Check{})
		if err != nil || inst.Version != "2.0.0" {
			t.Fatalf("install: %+v %v", inst, err)
		}
		safe("planted links")
		if sha(t, l.Current()) != sha(t, r.v2) {
			t.Fatal("installed binary is not v2")
		}
		st, _ := os.Lstat(l.Current())
		if sys := st.Sys().(*syscall.Stat_t); sys.Uid != attackerUID {
			t.Errorf("installed binary belongs to uid %d, want the service's %d", sys.Uid, attackerUID)
		}
	})

	t.Run("lock file link", func(t *testing.T) {
		u := newState("locklink")
		asAttacker(u.Layout.StateDir, "mkdir -m 750 bin && ln -s "+victim+" bin/.lock")
		if _, err := u.InstallFrom(ctx, r.v2, Check{}); err == nil {
			t.Fatal("install went on with a linked lock file")
		}
		safe("lock file link")
	})

	t.Run("staged file swapped after the checks", func(t *testing.T) {
		u := newState("swap")
		l := u.Layout
		u.afterVerify = func() {
			asAttacker(l.StateDir, "mv bin/meshbox.new bin/stolen && ln -s "+evil+" bin/meshbox.new")
		}
		_, err := u.InstallFrom(ctx, r.v2, Check{})
		if !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), "replaced while installing") {
			t.Fatalf("install with a swapped staged file: %v, want ErrUnsafeDir", err)
		}
		safe("swapped staged file")
		if exists(l.Current()) || exists(l.PendingFile()) {
			t.Fatal("the swapped-in file was left installed")
		}
	})

	t.Run("bin directory swapped after the checks", func(t *testing.T) {
		u := newState("dirswap")
		l := u.Layout
		u.afterVerify = func() {
			asAttacker(l.StateDir, "mv bin bin.moved && ln -s "+victimDir+" bin")
		}
		// The install goes on in the directory it opened (now bin.moved);
		// nothing lands where the link points.
		if _, err := u.InstallFrom(ctx, r.v2, Check{}); err != nil {
			t.Logf("install: %v", err)
		}
		safe("swapped bin directory")
	})
}

// TestRunnableAsRoot: root never execs an update the service user owns.
func TestRunnableAsRoot(t *testing.T) {
	f := filepath.Join(t.TempDir(), "meshbox")
	if err := os.WriteFile(f, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := runnable(f, 1000); err != nil {
		t.Errorf("the service user may run its own update: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file to another uid")
	}
	if err := runnable(f, 0); err != nil {
		t.Errorf("root may run a root-owned update: %v", err)
	}
	if err := os.Chown(f, attackerUID, attackerUID); err != nil {
		t.Fatal(err)
	}
	if err := runnable(f, 0); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("root would run the service user's file: %v", err)
	}
}

// TestRefusedCredentialsLogOnce: a LAN flood of wrong credentials on
// /update is one log line a minute, not one a request.
func TestRefusedCredentialsLogOnce(t *testing.T) {
	logs := logtest.New(t)
	u := newUpdater(t, "1.0.0")
	srv := httptest.NewServer(Handler(HandlerOptions{Updater: u, Logger: logs.Logger(),
		Authorize: BearerAuthorizer(func() string { return "owner-credential" })}))
	defer srv.Close()
	for i := range 50 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/update", strings.NewReader("x"))
		req.Header.Set("Authorization", "Bearer guess-"+string(rune('a'+i%26)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong credential: %d, want 401", resp.StatusCode)
		}
	}
	if got := logs.Matching("update refused: not the owner credential"); len(got) != 1 {
		t.Fatalf("%d refusal lines for 50 requests, want 1:\n%s", len(got), logs.String())
	}
	if strings.Contains(logs.String(), "guess-") {
		t.Fatal("a refused credential was logged")
	}
}
