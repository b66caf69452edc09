package scripts_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/update"
)

// hostMeshbox is meshbox built for this machine (flash.sh runs it to check
// the config and print the config.txt block); built once by TestMain.
var hostMeshbox string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flash-host-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hostMeshbox = filepath.Join(dir, "meshbox")
	// For the machine that runs flash.sh, also when this test runs as an
	// ARM binary under qemu-user (make test-arm sets GOARCH for it).
	hostEnv, err := exec.Command("go", "env", "GOHOSTOS", "GOHOSTARCH").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go env:", err)
		os.Exit(1)
	}
	goos, goarch, _ := strings.Cut(strings.TrimSpace(string(hostEnv)), "\n")
	flag.Parse() // testing.Short needs the flags
	if goarch != runtime.GOARCH && testing.Short() {
		// make test-arm: these tests drive flash.sh and the host's tools on
		// whole SD-card images; nothing in them depends on the test
		// binary's architecture, and emulated they took over 10 minutes
		// on a busy 2-core machine. make test runs them natively.
		fmt.Println("scripts: flash.sh tests skipped under emulation (-short); make test runs them")
		os.Exit(0)
	}
	build := exec.Command("go", "build", "-o", hostMeshbox, "../cmd/meshbox")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOARM=")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build host meshbox: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// flash runs scripts/flash.sh with extra environment, returning its output.
func flash(t *testing.T, env []string, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"flash.sh"}, args...)...)
	cmd.Env = append(append(os.Environ(), "TMPDIR="+t.TempDir(), "MESHBOX_HOST="+hostMeshbox), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustFlash(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := flash(t, env, "", args...)
	if err != nil {
		t.Fatalf("flash.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func flashFails(t *testing.T, env []string, stdin, want string, args ...string) {
	t.Helper()
	out, err := flash(t, env, stdin, args...)
	if err == nil {
		t.Fatalf("flash.sh %s succeeded, want failure %q\n%s", strings.Join(args, " "), want, out)
	}
	if !strings.Contains(out, want) {
		t.Fatalf("flash.sh %s: output lacks %q:\n%s", strings.Join(args, " "), want, out)
	}
}

const testConfig = `# meshbox config used by the flash test
name: shed
channel: home
outputs:
  - id: pump
    pin: 17
  - id: fan
    kind: pwm
    pin: 12
    frequency: 25000
sensors:
  - id: air
    driver: bme280
    address: 0x76
  - id: water
    driver: ds18b20
serial:
  - id: uno
    port: /dev/serial0
    baud: 115200
`

const defaultConfigTail = "\nname: meshbox\nchannel: home\n"

const (
	testHash = "$6$rounds=5000$saltsalt$Kx1UmyEMAGgBfEr0zF5s9mYQxbuq4ZxG4U2bi1.QqLr0uXzjRy0WvKhm4dGJw0C0dDdyq1Prxg7Kf5IhwPzOe0"
	testKey  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC6jvD3s0Kb8cX6nq2Q6JQb3ZkqvJ5v5zCwS6w0yL4sB alice@laptop"
)

// fixture is an image, a binary and a config ready to flash.
type fixture struct {
	dir, config, binary string
	img                 piImage
	bin                 []byte
}

func newFixture(t *testing.T, o imageOpts, binArch string) fixture {
	t.Helper()
	requireTools(t, imageTools...)
	dir := t.TempDir()
	f := fixture{dir: dir, img: buildImage(t, dir, o)}
	f.config = filepath.Join(dir, "meshbox.yaml")
	writeFile(t, f.config, testConfig, 0o600)
	f.bin = fakeELF(t, binArch, 300<<10)
	f.binary = filepath.Join(dir, "meshbox-linux-"+binArch)
	writeFile(t, f.binary, string(f.bin), 0o755)
	return f
}

func (f fixture) out(name string) piImage {
	p := f.img
	p.path = filepath.Join(f.dir, name)
	return p
}

func TestFlashImageOnlyBookworm(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imageOpts{}, "arm64")
	out := f.out("out.img")
	log := mustFlash(t, nil, f.img.path, "--board", "pi4", "--binary", f.binary, "--config", f.config,
		"--hostname", "shed-box", "--user", "alice", "--password-hash", testHash, "--ssh-key", testKey,
		"--wifi-ssid", "Home Net", "--wifi-psk", "correct horse", "--wifi-country", "gb",
		"--timezone", "Europe/London", "--image-only", out.path)
	t.Log(log)
	checkMeshboxInstalled(t, out, f.bin, testConfig)

	// config.txt: the original content, then one meshbox block with the buses.
	cfg := out.bootCat(t, "config.txt")
	if !strings.HasPrefix(cfg, "# For more options and information see\n") || !strings.Contains(cfg, "[cm4]\notg_mode=1\n") {
		t.Errorf("config.txt lost its original content:\n%s", cfg)
	}
	block := cfg[strings.Index(cfg, "# >>> meshbox"):]
	// Exactly what meshbox config-txt prints for the installed config.
	want, err := exec.Command(hostMeshbox, "config-txt", "-board", "pi4", f.config).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(cfg, string(want)) {
		t.Errorf("config.txt does not end with meshbox config-txt's block:\n%s\nwant:\n%s", cfg, want)
	}
	for _, want := range []string{"[all]", "dtparam=strict_gpiod", "dtparam=i2c_arm=on", "dtoverlay=w1-gpio",
		"dtoverlay=pwm-2chan,pin=12,func=4,pin2=19,func2=2", "enable_uart=1", "gpio=17=op,dl", "gpio=12=op,dl", "# <<< meshbox"} {
		if !strings.Contains(block, want+"\n") {
			t.Errorf("config.txt meshbox block lacks %q:\n%s", want, block)
		}
	}
	cmdline := out.bootCat(t, "cmdline.txt")
	if strings.Contains(cmdline, "console=serial0") || !strings.Contains(cmdline, "console=tty1") ||
		!strings.Contains(cmdline, "cfg80211.ieee80211_regdom=GB") || strings.Count(cmdline, "\n") != 1 {
		t.Errorf("cmdline.txt: serial console not dropped or regdom missing: %q", cmdline)
	}
	if got := out.bootCat(t, "userconf.txt"); got != "alice:"+testHash+"\n" {
		t.Errorf("userconf.txt = %q", got)
	}
	if !out.bootHas(t, "ssh") {
		t.Error("no ssh flag file on the boot partition")
	}
	if out.bootHas(t, "user-data") {
		t.Error("cloud-init seed written to a non-cloud-init image")
	}

	// First-boot settings in the root file system.
	if got := out.cat(t, "/etc/hostname"); got != "shed-box\n" {
		t.Errorf("/etc/hostname = %q", got)
	}
	if hosts := out.cat(t, "/etc/hosts"); !strings.Contains(hosts, "127.0.1.1\tshed-box\n") || strings.Contains(hosts, "raspberrypi") {
		t.Errorf("/etc/hosts:\n%s", hosts)
	}
	if got := out.cat(t, "/etc/timezone"); got != "Europe/London\n" {
		t.Errorf("/etc/timezone = %q", got)
	}
	expectInode(t, out, "/etc/localtime", "symlink", 0o777, 0, 0, "/usr/share/zoneinfo/Europe/London")
	nm := "/etc/NetworkManager/system-connections/meshbox-wifi.nmconnection"
	expectInode(t, out, nm, "regular", 0o600, 0, 0, "")
	keyfile := out.cat(t, nm)
	for _, want := range []string{"type=wifi\n", "ssid=Home Net\n", "key-mgmt=wpa-psk\n", "psk=correct horse\n", "[ipv4]\nmethod=auto\n"} {
		if !strings.Contains(keyfile, want) {
			t.Errorf("NetworkManager keyfile lacks %q:\n%s", want, keyfile)
		}
	}
	if !regexp.MustCompile(`(?m)^uuid=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(keyfile) {
		t.Errorf("keyfile has no uuid:\n%s", keyfile)
	}
	expectInode(t, out, "/etc/systemd/system/multi-user.target.wants/meshbox-firstboot.service", "symlink", 0o777, 0, 0,
		"/etc/systemd/system/meshbox-firstboot.service")
	if fb := out.cat(t, "/etc/systemd/system/meshbox-firstboot.service"); !strings.Contains(fb, "do_wifi_country GB\n") || strings.Contains(fb, "@COUNTRY@") {
		t.Errorf("first-boot unit:\n%s", fb)
	}
	expectInode(t, out, "/etc/ssh/authorized_keys.d/alice", "regular", 0o644, 0, 0, "")
	if got := out.cat(t, "/etc/ssh/authorized_keys.d/alice"); got != testKey+"\n" {
		t.Errorf("authorized keys = %q", got)
	}
	if sshd := out.cat(t, "/etc/ssh/sshd_config.d/meshbox.conf"); !strings.Contains(sshd, "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys.d/%u\n") ||
		strings.Contains(sshd, "PasswordAuthentication no") {
		t.Errorf("sshd config (password login must stay on with a hash):\n%s", sshd)
	}
	// Untouched files keep owner and mode.
	expectInode(t, out, "/etc/shadow", "regular", 0o640, 0, 42, "")
	out.fsck(t)

	// The input image is not modified.
	if got := f.img.cat(t, "/etc/hostname"); got != "raspberrypi\n" {
		t.Errorf("input image changed: hostname %q", got)
	}
}

// checkMeshboxInstalled checks what every flash installs: the binary,
// config, state dir, unit + link, sysusers file and the meshbox account.
func checkMeshboxInstalled(t *testing.T, out piImage, bin []byte, config string) (uid, gid int) {
	t.Helper()
	passwd := out.cat(t, "/etc/passwd")
	m := regexp.MustCompile(`(?m)^meshbox:x:(\d+):(\d+):[^:]*:/var/lib/meshbox:/usr/sbin/nologin$`).FindStringSubmatch(passwd)
	if m == nil || strings.Count(passwd, "\nmeshbox:") != 1 {
		t.Fatalf("/etc/passwd has no (single) meshbox user:\n%s", passwd)
	}
	uid, _ = strconv.Atoi(m[1])
	gid, _ = strconv.Atoi(m[2])
	if uid < 100 || uid > 999 || uid == 998 {
		t.Errorf("meshbox uid %d: want a free system uid", uid)
	}
	group := out.cat(t, "/etc/group")
	for _, want := range []string{
		fmt.Sprintf("meshbox:x:%d:", gid),
		"dialout:x:20:pi,meshbox", "gpio:x:997:pi,meshbox",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(group) {
			t.Errorf("/etc/group lacks %q:\n%s", want, group)
		}
	}
	if !regexp.MustCompile(`(?m)^i2c:x:\d+:meshbox$`).MatchString(group) {
		t.Errorf("/etc/group: i2c group not created with meshbox:\n%s", group)
	}
	if !strings.Contains(out.cat(t, "/etc/shadow"), "\nmeshbox:!*:") {
		t.Error("/etc/shadow has no locked meshbox entry")
	}
	if gs := out.cat(t, "/etc/gshadow"); !strings.Contains(gs, "\ngpio:!::pi,meshbox\n") || !strings.Contains(gs, "\nmeshbox:!::\n") {
		t.Errorf("/etc/gshadow:\n%s", gs)
	}

	expectInode(t, out, "/usr/local/bin/meshbox", "regular", 0o755, 0, 0, "")
	if got := out.cat(t, "/usr/local/bin/meshbox"); got != string(bin) {
		t.Errorf("/usr/local/bin/meshbox differs from the binary (%d vs %d bytes)", len(got), len(bin))
	}
	expectInode(t, out, "/etc/meshbox", "directory", 0o750, 0, gid, "")
	expectInode(t, out, "/etc/meshbox/meshbox.yaml", "regular", 0o640, 0, gid, "")
	// config "" = the default written without --config.
	if got := out.cat(t, "/etc/meshbox/meshbox.yaml"); got != config && (config != "" || !strings.HasSuffix(got, defaultConfigTail)) {
		t.Errorf("meshbox.yaml = %q, want %q", got, config)
	}
	expectInode(t, out, "/var/lib/meshbox", "directory", 0o750, uid, gid, "")
	unit, err := os.ReadFile("../deploy/meshbox.service")
	if err != nil {
		t.Fatal(err)
	}
	expectInode(t, out, "/etc/systemd/system/meshbox.service", "regular", 0o644, 0, 0, "")
	if got := out.cat(t, "/etc/systemd/system/meshbox.service"); got != string(unit) {
		t.Error("installed unit differs from deploy/meshbox.service")
	}
	expectInode(t, out, "/etc/systemd/system/multi-user.target.wants/meshbox.service", "symlink", 0o777, 0, 0,
		"/etc/systemd/system/meshbox.service")
	expectInode(t, out, "/usr/lib/sysusers.d/meshbox.conf", "regular", 0o644, 0, 0, "")
	return uid, gid
}

func expectInode(t *testing.T, p piImage, path, typ string, mode, uid, gid int, link string) {
	t.Helper()
	ino := p.stat(t, path)
	if ino.typ != typ || ino.mode != mode || ino.uid != uid || ino.gid != gid || ino.linkDest != link {
		t.Errorf("%s: %s %04o %d:%d -> %q; want %s %04o %d:%d -> %q", path,
			ino.typ, ino.mode, ino.uid, ino.gid, ino.linkDest, typ, mode, uid, gid, link)
	}
}

func TestFlashTwiceIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imageOpts{}, "arm64")
	first := f.out("first.img")
	mustFlash(t, nil, f.img.path, "--board", "pi5", "--binary", f.binary, "--image-only", first.path)
	uid1, _ := checkMeshboxInstalled(t, first, f.bin, "")
	second := f.out("second.img")
	mustFlash(t, nil, first.path, "--board", "pi5", "--binary", f.binary, "--config", f.config, "--image-only", second.path)
	uid2, _ := checkMeshboxInstalled(t, second, f.bin, testConfig)
	if uid1 != uid2 {
		t.Errorf("meshbox uid changed on re-flash: %d -> %d", uid1, uid2)
	}
	cfg := second.bootCat(t, "config.txt")
	if n := strings.Count(cfg, "# >>> meshbox"); n != 1 {
		t.Errorf("config.txt has %d meshbox blocks:\n%s", n, cfg)
	}
	if !strings.Contains(cfg, "dtparam=i2c_arm=on") {
		t.Errorf("second flash did not update the bus lines:\n%s", cfg)
	}
	second.fsck(t)
	// A third flash without --config keeps the installed config.
	third := f.out("third.img")
	mustFlash(t, nil, second.path, "--board", "pi5", "--binary", f.binary, "--image-only", third.path)
	checkMeshboxInstalled(t, third, f.bin, testConfig)
}

// writeUpdateKeys writes a keygen pair into dir: NAME.key and NAME.pub.
func writeUpdateKeys(t *testing.T, dir string) (priv, pub string) {
	t.Helper()
	pk, sk, err := update.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv = filepath.Join(dir, "release.key")
	pubPath, err := update.WriteKeyPair(priv, pk, sk)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pubPath
}

func TestFlashUpdateKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imageOpts{}, "arm64")
	_, pub := writeUpdateKeys(t, f.dir)
	out := f.out("out.img")
	log := mustFlash(t, nil, f.img.path, "--board", "pi4", "--binary", f.binary, "--update-key", pub, "--image-only", out.path)
	if !strings.Contains(log, "accepts only signed updates") {
		t.Errorf("flash log does not say the box takes only signed updates:\n%s", log)
	}
	checkMeshboxInstalled(t, out, f.bin, "")
	// Root-owned, world-readable (the service reads it), not writable by it.
	expectInode(t, out, "/etc/meshbox/update.pub", "regular", 0o644, 0, 0, "")
	want, _ := os.ReadFile(pub)
	got := out.cat(t, "/etc/meshbox/update.pub")
	if got != string(want) {
		t.Errorf("/etc/meshbox/update.pub = %q, want %q", got, want)
	}
	if _, err := update.ParsePublicKey([]byte(got)); err != nil {
		t.Errorf("installed key does not parse: %v", err)
	}
	// Flashing the result again without --update-key keeps it.
	again := f.out("again.img")
	log = mustFlash(t, nil, out.path, "--board", "pi4", "--binary", f.binary, "--image-only", again.path)
	if got := again.cat(t, "/etc/meshbox/update.pub"); got != string(want) || !strings.Contains(log, "keeping the image's /etc/meshbox/update.pub") {
		t.Errorf("second flash lost the key: %q\n%s", got, log)
	}
	again.fsck(t)
}

func TestFlashDefaultConfigNoBuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imageOpts{}, "arm64")
	out := f.out("out.img")
	log := mustFlash(t, nil, f.img.path, "--board", "pi3", "--binary", f.binary, "--image-only", out.path)
	if !strings.Contains(log, "no --update-key: the box accepts unsigned updates") {
		t.Errorf("no warning about unsigned updates:\n%s", log)
	}
	if _, ok := out.lookup(t, "/etc/meshbox/update.pub"); ok {
		t.Error("update key installed without --update-key")
	}
	cfg := out.bootCat(t, "config.txt")
	for _, no := range []string{"i2c_arm", "w1-gpio", "pwm", "enable_uart"} {
		if strings.Contains(cfg, no) {
			t.Errorf("config.txt enables %s without a config that uses it:\n%s", no, cfg)
		}
	}
	if !strings.Contains(cfg, "dtparam=strict_gpiod\n") {
		t.Errorf("config.txt lacks strict_gpiod:\n%s", cfg)
	}
	if cmdline := out.bootCat(t, "cmdline.txt"); !strings.Contains(cmdline, "console=serial0,115200") {
		t.Errorf("serial console dropped although meshbox does not use the UART: %q", cmdline)
	}
	if _, ok := out.lookup(t, "/etc/NetworkManager/system-connections/meshbox-wifi.nmconnection"); ok {
		t.Error("Wi-Fi keyfile written without --wifi-ssid")
	}
	if out.bootHas(t, "userconf.txt") || out.bootHas(t, "ssh") {
		t.Error("userconf.txt or ssh written without --user/--ssh")
	}
	if y := out.cat(t, "/etc/meshbox/meshbox.yaml"); !strings.Contains(y, "name: meshbox\n") {
		t.Errorf("default config:\n%s", y)
	}
	out.fsck(t)
}

func TestFlashCloudInit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imageOpts{cloudInit: true}, "arm64")
	out := f.out("out.img")
	keys := filepath.Join(f.dir, "keys.pub")
	writeFile(t, keys, "# my keys\n"+testKey+"\n\n", 0o644)
	mustFlash(t, nil, f.img.path, "--board", "pi-zero-2w", "--binary", f.binary, "--hostname", "garden",
		"--user", "bob", "--ssh-key", keys, "--wifi-ssid", `Say "hi"`, "--wifi-psk", "12345678", "--wifi-country", "DE",
		"--timezone", "Etc/UTC", "--image-only", out.path)
	checkMeshboxInstalled(t, out, f.bin, "")
	ud := out.bootCat(t, "user-data")
	for _, want := range []string{"#cloud-config\n", "hostname: \"garden\"\n", "timezone: \"Etc/UTC\"\n",
		"  - name: \"bob\"\n", "    lock_passwd: true\n", "      - \"" + testKey + "\"\n", "ssh_pwauth: false\n"} {
		if !strings.Contains(ud, want) {
			t.Errorf("user-data lacks %q:\n%s", want, ud)
		}
	}
	nc := out.bootCat(t, "network-config")
	for _, want := range []string{"network:\n  version: 2\n", "regulatory-domain: \"DE\"\n", `"Say \"hi\"":` + "\n", "password: \"12345678\"\n"} {
		if !strings.Contains(nc, want) {
			t.Errorf("network-config lacks %q:\n%s", want, nc)
		}
	}
	if md := out.bootCat(t, "meta-data"); !strings.HasPrefix(md, "instance-id: meshbox-") {
		t.Errorf("meta-data = %q", md)
	}
	if _, ok := out.lookup(t, "/etc/NetworkManager/system-connections/meshbox-wifi.nmconnection"); ok {
		t.Error("NetworkManager keyfile written on a cloud-init image")
	}
	if out.bootHas(t, "userconf.txt") {
		t.Error("userconf.txt written on a cloud-init image")
	}
	if sshd := out.cat(t, "/etc/ssh/sshd_config.d/meshbox.conf"); !strings.Contains(sshd, "PasswordAuthentication no\n") {
		t.Errorf("key-only login must disable passwords:\n%s", sshd)
	}
	out.fsck(t)
}

func TestFlashXZAndChecksum(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imageOpts{}, "arm64")
	run(t, "xz", "-k", "-0", "-T1", f.img.path)
	xzPath := f.img.path + ".xz"
	data, err := os.ReadFile(xzPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])
	sumFile := filepath.Join(f.dir, "raspios.img.xz.sha256")
	writeFile(t, sumFile, good+"  raspios.img.xz\n", 0o644)

	out := f.out("fromxz.img")
	mustFlash(t, nil, xzPath, "--sha256", sumFile, "--board", "pi4", "--binary", f.binary, "--image-only", out.path)
	checkMeshboxInstalled(t, out, f.bin, "")
	out.fsck(t)

	bad := strings.Repeat("0", 64)
	badOut := filepath.Join(f.dir, "bad.img")
	flashFails(t, nil, "", "sha256 mismatch", xzPath, "--sha256", bad, "--board", "pi4", "--binary", f.binary, "--image-only", badOut)
	if _, err := os.Stat(badOut); !os.IsNotExist(err) {
		t.Errorf("output written despite a bad checksum: %v", err)
	}
	// IMAGE.sha256 next to the image is picked up without --sha256.
	writeFile(t, xzPath+".sha256", bad+"  raspios.img.xz\n", 0o644)
	flashFails(t, nil, "", "sha256 mismatch", xzPath, "--board", "pi4", "--binary", f.binary, "--image-only", badOut)
	// A truncated download fails to decompress and leaves no output.
	os.Remove(xzPath + ".sha256")
	writeFile(t, xzPath, string(data[:len(data)/2]), 0o644)
	flashFails(t, nil, "", "cannot decompress", xzPath, "--board", "pi4", "--binary", f.binary, "--image-only", badOut)
	if _, err := os.Stat(badOut); !os.IsNotExist(err) {
		t.Errorf("half-written output left behind: %v", err)
	}
}

func TestFlashRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imageOpts{arch: "armhf"}, "arm64")
	out := filepath.Join(f.dir, "out.img")
	base := []string{f.img.path, "--image-only", out}
	badConfig := filepath.Join(f.dir, "bad.yaml")
	writeFile(t, badConfig, "outputs:\n  - {id: pump, pin: 17, boot: maybe}\n", 0o644)
	priv, _ := writeUpdateKeys(t, f.dir)
	notKey := filepath.Join(f.dir, "not.pub")
	writeFile(t, notKey, "ssh-ed25519 AAAA\n", 0o644)
	cases := []struct {
		want string
		args []string
	}{
		{"image is 32-bit (armhf)", []string{"--board", "pi4", "--binary", f.binary}},
		{"built for arm64, board pi-zero needs armv6", []string{"--board", "pi-zero", "--binary", f.binary}},
		{"unknown board", []string{"--board", "pi9", "--binary", f.binary}},
		{"--board is required", []string{"--binary", f.binary}},
		{"--hostname", []string{"--board", "pi4", "--binary", f.binary, "--hostname", "bad_name!"}},
		{"--user needs --password-hash or --ssh-key", []string{"--board", "pi4", "--binary", f.binary, "--user", "alice"}},
		{"crypt(3) hash", []string{"--board", "pi4", "--binary", f.binary, "--user", "alice", "--password-hash", "secret"}},
		{"not an SSH public key", []string{"--board", "pi4", "--binary", f.binary, "--user", "alice", "--ssh-key", "hello"}},
		{"needs --wifi-country", []string{"--board", "pi4", "--binary", f.binary, "--wifi-ssid", "x", "--wifi-psk", "12345678"}},
		{"8 to 63 characters", []string{"--board", "pi4", "--binary", f.binary, "--wifi-ssid", "x", "--wifi-psk", "short", "--wifi-country", "GB"}},
		{"not in the image's /usr/share/zoneinfo", []string{"--board", "pi-zero", "--binary", writeArmhf(t, f.dir), "--timezone", "Mars/Olympus"}},
		{"is not an ELF executable", []string{"--board", "pi4", "--binary", f.config}},
		{"meshbox refuses", []string{"--board", "pi-zero", "--binary", writeArmhf(t, f.dir), "--config", badConfig}},
		{"does not run on this machine", []string{"--board", "pi-zero", "--binary", writeArmhf(t, f.dir), "--host-meshbox", writeArmhf(t, f.dir)}},
		{"is a PRIVATE key", []string{"--board", "pi4", "--binary", f.binary, "--update-key", priv}},
		{"not a meshbox update public key", []string{"--board", "pi4", "--binary", f.binary, "--update-key", notKey}},
		{"--update-key " + filepath.Join(f.dir, "none.pub") + ": no such file", []string{"--board", "pi4", "--binary", f.binary, "--update-key", filepath.Join(f.dir, "none.pub")}},
	}
	for _, c := range cases {
		flashFails(t, nil, "", c.want, append(append([]string{}, base...), c.args...)...)
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("%s: output left behind", c.want)
		}
	}
	notImg := filepath.Join(f.dir, "notimage.img")
	writeFile(t, notImg, strings.Repeat("x", 4096), 0o644)
	flashFails(t, nil, "", "no partition table", notImg, "--board", "pi4", "--binary", f.binary, "--image-only", out)
	// The armhf image is fine for a Pi Zero with a 32-bit binary.
	mustFlash(t, nil, f.img.path, "--board", "pi-zero", "--binary", writeArmhf(t, f.dir), "--image-only", out)
}

func writeArmhf(t *testing.T, dir string) string {
	p := filepath.Join(dir, "meshbox-linux-armv6")
	writeFile(t, p, string(fakeELF(t, "armhf", 1024)), 0o755)
	return p
}

// TestFlashOwnerToken: --owner-token installs the owner credential 0600,
// owned by the meshbox user, in the state directory, never printing it; a
// weak or malformed one is refused before anything is written.
func TestFlashOwnerToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imageOpts{}, "arm64")
	const cred = "flash-time-Owner_credential.0123456789"
	credFile := filepath.Join(f.dir, "owner")
	writeFile(t, credFile, cred+"\n", 0o600)
	out := f.out("owner.img")
	log := mustFlash(t, nil, f.img.path, "--board", "pi4", "--binary", f.binary, "--owner-token", credFile, "--image-only", out.path)
	if strings.Contains(log, cred) {
		t.Fatalf("flash.sh printed the owner credential:\n%s", log)
	}
	uid, gid := checkMeshboxInstalled(t, out, f.bin, "")
	expectInode(t, out, "/var/lib/meshbox/owner-token", "regular", 0o600, uid, gid, "")
	if got := out.cat(t, "/var/lib/meshbox/owner-token"); got != cred+"\n" {
		t.Fatalf("owner-token = %q", got)
	}
	out.fsck(t)

	bad := filepath.Join(f.dir, "out2.img")
	for _, c := range []struct{ text, want string }{
		{"short\n", "16 to 128 characters"},
		{"has a space in it somewhere\n", "16 to 128 characters"},
	} {
		writeFile(t, credFile, c.text, 0o600)
		flashFails(t, nil, "", c.want, f.img.path, "--board", "pi4", "--binary", f.binary, "--owner-token", credFile, "--image-only", bad)
		if _, err := os.Stat(bad); !os.IsNotExist(err) {
			t.Fatal("output left behind")
		}
	}
	flashFails(t, nil, "", "not a readable file", f.img.path, "--board", "pi4", "--binary", f.binary,
		"--owner-token", filepath.Join(f.dir, "missing"), "--image-only", bad)
}
