package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestChainsVerify(t *testing.T) {
	ca := NewCA(t, "test CA")
	srv := ca.Server(t, "127.0.0.1", "localhost")
	cli := ca.Client(t, "box1")
	if _, err := srv.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "localhost"}); err != nil {
		t.Errorf("server cert for localhost: %v", err)
	}
	if err := srv.Cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("server cert for 127.0.0.1: %v", err)
	}
	if err := srv.Cert.VerifyHostname("example.com"); err == nil {
		t.Error("server cert verified for example.com")
	}
	if _, err := cli.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client cert: %v", err)
	}
	other := NewCA(t, "other CA")
	if _, err := srv.Cert.Verify(x509.VerifyOptions{Roots: other.Pool(), DNSName: "localhost"}); err == nil {
		t.Error("server cert verified against an unrelated CA")
	}
	if d := srv.Cert.NotAfter.Sub(srv.Cert.NotBefore); d > Validity+time.Minute {
		t.Errorf("validity %v, want short-lived", d)
	}
}

func TestFilesLoad(t *testing.T) {
	dir := t.TempDir()
	ca := NewCA(t, "test CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	certFile, keyFile := ca.Client(t, "box1").Write(t, dir, "client")
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatalf("load pair: %v", err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(caFile)
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		t.Error("CA file holds no PEM certificate")
	}
	if filepath.Dir(caFile) != dir {
		t.Errorf("CA file %s not in %s", caFile, dir)
	}
}

// A real handshake over loopback, with mutual TLS.
func TestMutualTLSHandshake(t *testing.T) {
	ca := NewCA(t, "test CA")
	srvCfg := &tls.Config{
		Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1").TLS(t)},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if tc := c.(*tls.Conn); tc.Handshake() == nil {
					io.WriteString(c, "hello "+tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
				}
			}()
		}
	}()
	dial := func(cfg *tls.Config) (string, error) {
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			return "", err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		return string(b), err
	}
	got, err := dial(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ca.Client(t, "box1").TLS(t)}})
	if err != nil || got != "hello box1" {
		t.Fatalf("mutual TLS: %q, %v", got, err)
	}
	if got, err := dial(&tls.Config{RootCAs: ca.Pool()}); err == nil && got != "" {
		t.Errorf("without a client cert the server answered %q", got)
	}
	_, err = dial(&tls.Config{RootCAs: NewCA(t, "other").Pool()})
	if err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("wrong CA: err = %v, want unknown authority", err)
	}
}
