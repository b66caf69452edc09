package pairing

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultRole is the role a paired phone identifies with (§15.1).
const DefaultRole = "controller"

// Payload is the pairing QR content (§15.1). Token is omitted from the JSON
// when empty (open relay); K, the base64 room key of an encrypted room
// (§15.5), when the room is not encrypted.
type Payload struct {
	URL     string `json:"url"`
	Channel string `json:"channel"`
	Role    string `json:"role"`
	Token   string `json:"token,omitempty"`
	K       string `json:"k,omitempty"`
}

// JSON returns the compact JSON text put in the QR code.
func (p Payload) JSON() []byte {
	b, err := json.Marshal(p)
	if err != nil { // only strings: cannot happen
		panic(err)
	}
	return b
}

// ListenPort returns the TCP port of a listen address (":8765",
// "0.0.0.0:8765", "[::]:8765"); an empty address means 8765.
func ListenPort(listen string) (int, error) {
	if listen == "" {
		return 8765, nil
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return 0, fmt.Errorf("listen address %q: %w", listen, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return 0, fmt.Errorf("listen address %q: bad port", listen)
	}
	return n, nil
}

// URL returns the ws:// URL a phone dials: advertise when set (a host name,
// a reverse proxy or wss://), else ws://<ip>:<port>.
func URL(advertise string, ip net.IP, port int) string {
	if advertise != "" {
		return strings.TrimRight(advertise, "/")
	}
	return "ws://" + net.JoinHostPort(ip.String(), strconv.Itoa(port))
}

// HTTPURL turns a ws:// or wss:// URL into the http:// or https:// URL of the
// box's page on the same port.
func HTTPURL(wsURL string) string {
	switch {
	case strings.HasPrefix(wsURL, "wss://"):
		return "https://" + strings.TrimPrefix(wsURL, "wss://")
	case strings.HasPrefix(wsURL, "ws://"):
		return "http://" + strings.TrimPrefix(wsURL, "ws://")
	}
	return wsURL
}
