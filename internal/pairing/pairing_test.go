package pairing

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/miekg/dns"
)

const routeTable = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
wlan0	0000A8C0	00000000	0001	0	0	600	00FFFFFF	0	0	0
eth0	00000000	0102A8C0	0003	0	0	100	00000000	0	0	0
wlan0	00000000	0101A8C0	0003	0	0	600	00000000	0	0	0
docker0	000011AC	00000000	0001	0	0	0	0000FFFF	0	0	0
`

func ips(s ...string) []net.IP {
	var out []net.IP
	for _, x := range s {
		out = append(out, net.ParseIP(x))
	}
	return out
}

func testIfaces() []Iface {
	return []Iface{
		{Name: "lo", Up: true, Loopback: true, Addrs: ips("127.0.0.1", "::1")},
		{Name: "docker0", Up: true, Addrs: ips("172.17.0.1")},
		{Name: "wlan0", Up: true, Addrs: ips("fe80::1", "192.168.1.77")},
		{Name: "eth0", Up: true, Addrs: ips("fe80::2", "192.168.2.50")},
	}
}

func TestDefaultRouteIfaceLowestMetric(t *testing.T) {
	got, err := DefaultRouteIface([]byte(routeTable))
	if err != nil || got != "eth0" {
		t.Fatalf("DefaultRouteIface = %q, %v; want eth0", got, err)
	}
}

func TestDefaultRouteIfaceIgnoresDownAndGarbage(t *testing.T) {
	text := "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n" +
		"eth0\t00000000\t0102A8C0\t0002\t0\t0\t100\t00000000\n" + // not up
		"garbage line\n" +
		"wlan0\tzz\t0\t0003\t0\t0\t1\t00000000\n"
	if got, err := DefaultRouteIface([]byte(text)); err == nil {
		t.Fatalf("want error, got %q", got)
	}
}

func TestLANIPv4UsesDefaultRouteInterface(t *testing.T) {
	r := Resolver{
		ReadRoutes: func() ([]byte, error) { return []byte(routeTable), nil },
		Interfaces: func() ([]Iface, error) { return testIfaces(), nil },
	}
	ip, err := r.LANIPv4()
	if err != nil || ip.String() != "192.168.2.50" {
		t.Fatalf("LANIPv4 = %v, %v; want 192.168.2.50 (eth0 holds the default route)", ip, err)
	}
}

func TestLANIPv4FallsBackAndLogs(t *testing.T) {
	var logBuf bytes.Buffer
	r := Resolver{
		ReadRoutes: func() ([]byte, error) { return nil, errors.New("no procfs") },
		Interfaces: func() ([]Iface, error) { return testIfaces(), nil },
		Logger:     slog.New(slog.NewTextHandler(&logBuf, nil)),
	}
	ip, err := r.LANIPv4()
	if err != nil || ip.String() != "172.17.0.1" {
		t.Fatalf("LANIPv4 = %v, %v; want first non-loopback 172.17.0.1", ip, err)
	}
	if !strings.Contains(logBuf.String(), "no procfs") {
		t.Errorf("fallback not logged with its reason: %q", logBuf.String())
	}
}

func TestLANIPv4NeverLoopback(t *testing.T) {
	r := Resolver{
		ReadRoutes: func() ([]byte, error) {
			return []byte("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nlo\t00000000\t00000000\t0001\t0\t0\t0\t00000000\n"), nil
		},
		Interfaces: func() ([]Iface, error) {
			return []Iface{{Name: "lo", Up: true, Loopback: true, Addrs: ips("127.0.0.1")}}, nil
		},
	}
	if ip, err := r.LANIPv4(); !errors.Is(err, ErrNoLANAddress) {
		t.Fatalf("LANIPv4 = %v, %v; want ErrNoLANAddress", ip, err)
	}
}

func TestLANIPv4RealHost(t *testing.T) {
	ip, err := Resolver{}.LANIPv4()
	if err != nil {
		t.Skipf("no LAN address on this host: %v", err)
	}
	if ip.IsLoopback() || ip.To4() == nil {
		t.Fatalf("LANIPv4 = %v", ip)
	}
}

func TestPayloadJSON(t *testing.T) {
	p := Payload{URL: URL("", net.ParseIP("192.168.1.50"), 8765), Channel: "home", Role: DefaultRole, Token: "s3cret"}
	want := `{"url":"ws://192.168.1.50:8765","channel":"home","role":"controller","token":"s3cret"}`
	if got := string(p.JSON()); got != want {
		t.Fatalf("JSON = %s\nwant   %s", got, want)
	}
	p.K = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	if got := string(p.JSON()); got != strings.TrimSuffix(want, "}")+`,"k":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}` {
		t.Fatalf("encrypted room payload = %s", got)
	}
	p.K = ""
	p.Token = ""
	if strings.Contains(string(p.JSON()), "token") {
		t.Fatalf("open relay payload carries a token key: %s", p.JSON())
	}
	if got := URL("wss://box.example.org/", nil, 0); got != "wss://box.example.org" {
		t.Errorf("advertise URL = %q", got)
	}
	if got := HTTPURL("ws://10.0.0.2:8765"); got != "http://10.0.0.2:8765" {
		t.Errorf("HTTPURL = %q", got)
	}
}

func TestListenPort(t *testing.T) {
	for in, want := range map[string]int{"": 8765, ":8765": 8765, "0.0.0.0:9000": 9000, "[::]:1": 1} {
		if got, err := ListenPort(in); err != nil || got != want {
			t.Errorf("ListenPort(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"8765", ":x", ":0", ":70000"} {
		if _, err := ListenPort(bad); err == nil {
			t.Errorf("ListenPort(%q) accepted", bad)
		}
	}
}

func decodeImage(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

func testPayload() Payload {
	return Payload{URL: "ws://192.168.1.50:8765", Channel: "home", Role: DefaultRole, Token: "k9QwErTy-0123456789abcdef"}
}

func TestQRPNGDecodesToPayload(t *testing.T) {
	p := testPayload()
	q, err := NewQR(p.JSON())
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.PNG(256)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var got Payload
	if err := json.Unmarshal([]byte(decodeImage(t, img)), &got); err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Fatalf("decoded %+v, want %+v", got, p)
	}
}

// rasterizeText turns the half-block text back into pixels (a terminal
// showing block characters as light on a dark background), 4 px per module.
func rasterizeText(t *testing.T, text string, invert bool) image.Image {
	t.Helper()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	w := len([]rune(lines[0]))
	const s = 4
	img := image.NewGray(image.Rect(0, 0, w*s, len(lines)*2*s))
	fg, bg := color.Gray{Y: 255}, color.Gray{Y: 0} // light glyphs on a dark terminal
	if invert {
		fg, bg = bg, fg
	}
	for y, line := range lines {
		runes := []rune(line)
		if len(runes) != w {
			t.Fatalf("line %d has %d cells, want %d", y, len(runes), w)
		}
		for x, r := range runes {
			var top, bottom bool
			switch r {
			case '█':
				top, bottom = true, true
			case '▀':
				top = true
			case '▄':
				bottom = true
			case ' ':
			default:
				t.Fatalf("unexpected rune %q", r)
			}
			for dy := 0; dy < 2*s; dy++ {
				on := top
				if dy >= s {
					on = bottom
				}
				c := bg
				if on {
					c = fg
				}
				for dx := 0; dx < s; dx++ {
					img.SetGray(x*s+dx, y*2*s+dy, c)
				}
			}
		}
	}
	return img
}

func TestQRTextScans(t *testing.T) {
	p := testPayload()
	q, err := NewQR(p.JSON())
	if err != nil {
		t.Fatal(err)
	}
	for _, invert := range []bool{false, true} {
		text := q.Text(invert)
		if got := decodeImage(t, rasterizeText(t, text, invert)); got != string(p.JSON()) {
			t.Fatalf("invert=%v: text QR decodes to %q", invert, got)
		}
		// Quiet zone: the first and last text lines are blank of dark modules.
		lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
		quiet := "█"
		if invert {
			quiet = " "
		}
		if strings.Trim(lines[0], quiet) != "" || strings.Trim(lines[len(lines)-1], quiet+"▀") != "" {
			t.Errorf("invert=%v: no quiet zone", invert)
		}
	}
}

func TestWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	w := NewWindow(0, false, clock)
	if !w.IsOpen() || w.Length() != DefaultWindow {
		t.Fatal("window not open at boot for the default length")
	}
	now = now.Add(DefaultWindow - time.Second)
	if !w.IsOpen() {
		t.Fatal("closed before its end")
	}
	now = now.Add(time.Second)
	if w.IsOpen() || !w.Until().IsZero() {
		t.Fatal("still open after 10 minutes")
	}
	until := w.Open() // pairing button
	if !w.IsOpen() || !until.Equal(now.Add(DefaultWindow)) || !w.Until().Equal(until) {
		t.Fatalf("Open: open=%v until=%v", w.IsOpen(), until)
	}
	w.Close()
	if w.IsOpen() {
		t.Fatal("open after Close")
	}
	a := NewWindow(time.Minute, true, clock)
	now = now.Add(time.Hour)
	a.Close()
	if !a.IsOpen() || !a.Always() {
		t.Fatal("always-open window closed")
	}
}

func TestAdvertRecords(t *testing.T) {
	a := Advert{Instance: "meshbox", Hostname: "garage-box", Port: 8765,
		IPs: ips("192.168.1.50"), TXT: []string{"path=/", "channel=home"}}
	svc, err := a.Service()
	if err != nil {
		t.Fatal(err)
	}
	ptr := svc.Records(dns.Question{Name: "_meshsocket._tcp.local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET})
	var sawPTR, sawSRV, sawTXT, sawA bool
	for _, rr := range ptr {
		switch r := rr.(type) {
		case *dns.PTR:
			sawPTR = r.Ptr == "meshbox._meshsocket._tcp.local."
		case *dns.SRV:
			sawSRV = r.Target == "garage-box.local." && r.Port == 8765
		case *dns.TXT:
			sawTXT = strings.Join(r.Txt, ",") == "path=/,channel=home"
		case *dns.A:
			sawA = r.A.String() == "192.168.1.50" && r.Hdr.Name == "garage-box.local."
		}
	}
	if !sawPTR || !sawSRV || !sawTXT || !sawA {
		t.Fatalf("records %v: ptr=%v srv=%v txt=%v a=%v", ptr, sawPTR, sawSRV, sawTXT, sawA)
	}
	host := svc.Records(dns.Question{Name: "garage-box.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	if len(host) != 1 {
		t.Fatalf("host A query answered %v", host)
	}
	if _, err := (Advert{Hostname: "x", Port: 1}).Service(); err == nil {
		t.Fatal("advert without address accepted")
	}
	if got := HostFQDN("box.lan"); got != "box.lan." {
		t.Errorf("HostFQDN = %q", got)
	}
}

func FuzzDefaultRouteIface(f *testing.F) {
	f.Add([]byte(routeTable))
	f.Add([]byte("Iface\n\x00\t\t"))
	f.Fuzz(func(t *testing.T, b []byte) {
		name, err := DefaultRouteIface(b)
		if err == nil && name == "" {
			t.Fatal("empty interface without error")
		}
	})
}
