package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"lachan/internal/tlsconf/tlsconftest"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a certificate for localhost and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestClientRefusesWeakServers(t *testing.T) {
	cert, pool := selfSigned(t)
	server := func(minV, maxV uint16, suites ...uint16) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minV, MaxVersion: maxV, CipherSuites: suites}
	}
	tests := []struct {
		name   string
		server *tls.Config
		ok     bool
	}{
		{"TLS 1.2 ECDHE-ECDSA AES-128-CBC-SHA only", server(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA), false},
		{"TLS 1.1 only", server(tls.VersionTLS10, tls.VersionTLS11), false},
		{"TLS 1.2 AES-256-GCM only", server(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384), true},
		{"Go default", server(0, 0), true},
	}
	for _, tt := range tests {
		client := WithRoots(pool)
		client.ServerName = "localhost"
		err := tlsconftest.Handshake(t, tt.server, client)
		if tt.ok && err != nil {
			t.Errorf("%s: handshake failed: %v", tt.name, err)
		}
		if !tt.ok && err == nil {
			t.Errorf("%s: handshake succeeded", tt.name)
		}
	}
}

func TestSuitesAreECDHEAEAD(t *testing.T) {
	for _, id := range New().CipherSuites {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !strings.Contains(name, "_GCM_") && !strings.Contains(name, "CHACHA20_POLY1305") {
			t.Errorf("suite %s allowed", name)
		}
	}
	if a, b := New(), New(); &a.CipherSuites[0] == &b.CipherSuites[0] {
		t.Error("New shares its suite list between configurations")
	}
}

// TestEveryConfigComesFromNew keeps TLS configurations from being built
// anywhere else, where they would fall back to Go's wider defaults.
func TestEveryConfigComesFromNew(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := filepath.Abs(".")
	var found []string
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (path == self || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "tls.Config{") {
			rel, _ := filepath.Rel(root, path)
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(found)
	if len(found) > 0 {
		t.Fatalf("TLS configurations built outside tlsconf.New: %v", found)
	}
}
