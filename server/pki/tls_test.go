package pki

import (
	"crypto/tls"
	"crypto/x509"
	"lachan/internal/tlsconf/tlsconftest"
	"testing"
)

func TestServerTLSRefusesWeakClients(t *testing.T) {
	a, err := LoadOrCreate(t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(a.CAPEM())
	client := func(minV, maxV uint16, suites ...uint16) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: minV, MaxVersion: maxV, CipherSuites: suites}
	}
	// The server's key is ECDSA, so the ECDSA forms of the CBC suites are
	// the ones it could otherwise choose.
	tests := []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"TLS 1.2 ECDHE-ECDSA AES-128-CBC-SHA", client(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA), false},
		{"TLS 1.2 ECDHE-ECDSA AES-256-CBC-SHA", client(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA), false},
		{"TLS 1.2 ECDHE-ECDSA AES-128-CBC-SHA256", client(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256), false},
		{"TLS 1.2 ECDHE-RSA AES-128-CBC-SHA", client(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA), false},
		{"TLS 1.1", client(tls.VersionTLS11, tls.VersionTLS11), false},
		{"TLS 1.2 ECDHE-ECDSA AES-128-GCM", client(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), true},
		{"TLS 1.2 ECDHE-ECDSA ChaCha20-Poly1305", client(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256), true},
		{"Go default", client(0, 0), true},
	}
	for _, tt := range tests {
		err := tlsconftest.Handshake(t, a.ServerTLS(), tt.client)
		if tt.ok && err != nil {
			t.Errorf("%s: handshake failed: %v", tt.name, err)
		}
		if !tt.ok && err == nil {
			t.Errorf("%s: handshake succeeded", tt.name)
		}
	}
}
