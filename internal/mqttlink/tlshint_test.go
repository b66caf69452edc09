package mqttlink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
)

func TestConnectHint(t *testing.T) {
	withCert := &tls.Config{Certificates: []tls.Certificate{{}}}
	for _, c := range []struct {
		err  error
		tc   *tls.Config
		want string
	}{
		{fmt.Errorf("connect: %w", syscall.ECONNRESET), &tls.Config{}, "may require a client certificate"},
		{fmt.Errorf("connect: %w", io.EOF), withCert, "may not accept this client certificate"},
		{errors.New("remote error: tls: unknown certificate authority"), withCert, "may not accept"},
		{fmt.Errorf("connect: %w", syscall.ECONNRESET), nil, ""},             // plain mqtt://
		{fmt.Errorf("connect: %w", syscall.ECONNREFUSED), &tls.Config{}, ""}, // broker down
	} {
		got := connectHint(c.err, c.tc)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("connectHint(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
