package mqttlink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"syscall"
)

// connectHint turns a failed TLS connect into advice for the log, or "".
// A broker that refuses the client certificate (or gets none) usually
// drops the connection during or after the handshake, which Go reports as
// a TLS alert from the peer, a reset or EOF (with TLS 1.3 the client's
// handshake is over before the broker checks its certificate).
func connectHint(err error, tc *tls.Config) string {
	if tc == nil || err == nil {
		return ""
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return "the broker's certificate is not signed by a trusted CA: set mqtt.ca_file to the CA that signed it"
	case errors.As(err, &host):
		return "the broker's certificate does not name the host in mqtt.url: use a host name or address listed in the certificate"
	case errors.As(err, &invalid):
		return "the broker's certificate is not valid (expired, not yet valid or not for servers); check the clock and the certificate"
	case strings.Contains(err.Error(), "remote error: tls:"), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if len(tc.Certificates) == 0 && tc.GetClientCertificate == nil {
			return "the broker closed the TLS connection: it may require a client certificate (mqtt.cert_file and mqtt.key_file)"
		}
		return "the broker closed the TLS connection: it may not accept this client certificate (signed by a CA the broker does not trust?)"
	}
	return ""
}
