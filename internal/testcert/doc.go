// Package testcert makes throw-away X.509 certificates for TLS tests: a
// certificate authority, server certificates (IP and DNS SANs) and client
// certificates, all ECDSA P-256 and valid for one hour only.
//
// Nothing is shared between tests: every CA is a fresh key pair, and the
// files a test needs (PEM certificate, PKCS#8 key) are written to a
// directory the test chooses, usually t.TempDir().
package testcert
