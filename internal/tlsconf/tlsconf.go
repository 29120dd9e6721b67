// Package tlsconf builds the one TLS configuration every connection of
// the project starts from: the server's listener, the agents', the
// sensors' and the operator CLI's clients, and the TAXII forwarding
// client.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
)

// suites12 are the TLS 1.2 suites allowed: ECDHE key exchange (forward
// secrecy) with an AEAD cipher. CBC suites with SHA-1 or SHA-256 MACs and
// static RSA key exchange are left out. TLS 1.3 suites are not
// configurable and are all AEAD.
var suites12 = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// New returns a fresh configuration that allows TLS 1.3, and TLS 1.2 with
// the suites in suites12 only. The caller owns it and adds certificates,
// roots and client authentication.
func New() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: append([]uint16(nil), suites12...),
	}
}

// Suites12 returns the TLS 1.2 suites New allows.
func Suites12() []uint16 { return append([]uint16(nil), suites12...) }

// WithRoots returns New with roots as the only trusted CAs (nil: the
// system's).
func WithRoots(roots *x509.CertPool) *tls.Config {
	tc := New()
	tc.RootCAs = roots
	return tc
}
