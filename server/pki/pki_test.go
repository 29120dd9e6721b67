package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func csr(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "pc-01"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func TestCAPersistsAndSignsAgents(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreate(dir, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("CA changed across restarts")
	}
	if fi, err := os.Stat(filepath.Join(dir, caKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode: %v %v", fi.Mode(), err)
	}
	certPEM, err := a.SignAgent(csr(t), "agent-1", "phuong-1")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(certPEM))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b.CAPEM())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("agent certificate does not verify against the reloaded CA: %v", err)
	}
	if cert.Subject.CommonName != "agent-1" || cert.Subject.OrganizationalUnit[0] != "phuong-1" {
		t.Fatalf("subject %v", cert.Subject)
	}
}

func TestServerCertReissuedForNewHost(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir, []string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	a, err := LoadOrCreate(dir, []string{"localhost", "lachan.example"})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(a.ServerTLS().Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("lachan.example"); err != nil {
		t.Fatal(err)
	}
}

func TestSignAgentRejectsBadCSR(t *testing.T) {
	a, err := LoadOrCreate(t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	good := csr(t)
	tampered := strings.Replace(good, good[60:64], "AAAA", 1)
	for name, in := range map[string]string{"empty": "", "not pem": "hello", "tampered": tampered} {
		if _, err := a.SignAgent(in, "x", "u"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestAuditKeyPersists: the audit key is made once, kept across restarts
// apart from the bundle key, and readable by AuditPublicKey.
func TestAuditKeyPersists(t *testing.T) {
	dir := t.TempDir()
	if _, err := AuditPublicKey(dir); err == nil {
		t.Fatal("audit public key before the first start")
	}
	a, err := LoadOrCreate(dir, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreate(dir, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.AuditSigner().Equal(b.AuditSigner()) || a.AuditSigner().Equal(a.BundleSigner()) {
		t.Fatal("audit key changed across restarts, or is the bundle key")
	}
	pub, err := AuditPublicKey(dir)
	if err != nil || !pub.Equal(a.AuditSigner().Public()) {
		t.Fatalf("audit public key: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, AuditKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit key mode: %v %v", fi.Mode(), err)
	}
}
