package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lachan/server/pki"
)

// run runs the CLI with args and returns what it printed.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := rootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// TestSenderCertificate walks the two commands: a lower tier makes its key
// and request, the upper tier signs it with its CA, and the result is a
// client certificate for that key, chained to the upper tier's CA, naming
// the sender as pki.SenderOrg.
func TestSenderCertificate(t *testing.T) {
	upper, lower := t.TempDir(), t.TempDir()
	ca, err := pki.LoadOrCreate(filepath.Join(upper, "pki"), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	csr, stderr, err := run(t, "--data-dir", lower, "forward", "sender-request", "phuong-ben-thanh")
	if err != nil || !strings.Contains(csr, "CERTIFICATE REQUEST") {
		t.Fatalf("sender-request: %v\n%s%s", err, csr, stderr)
	}
	keyPath := filepath.Join(lower, "forward", "sender.key")
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	// A second request keeps the key unless told otherwise.
	if _, _, err := run(t, "--data-dir", lower, "forward", "sender-request", "phuong-ben-thanh"); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second sender-request: %v, want a refusal naming --force", err)
	}
	reqFile := filepath.Join(t.TempDir(), "req.pem")
	if err := os.WriteFile(reqFile, []byte(csr), 0o600); err != nil {
		t.Fatal(err)
	}
	certPEM, stderr, err := run(t, "--data-dir", upper, "forward", "sign-sender", "phuong-ben-thanh", reqFile)
	if err != nil {
		t.Fatalf("sign-sender: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "not in forward.receive.senders") {
		t.Errorf("sign-sender of an unregistered name says nothing about it: %q", stderr)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair([]byte(certPEM), keyPEM)
	if err != nil {
		t.Fatalf("certificate and key do not pair: %v", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CAPEM())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("certificate does not chain to the upper tier's CA as a client certificate: %v", err)
	}
	if cert.Subject.CommonName != "phuong-ben-thanh" || !slices.Contains(cert.Subject.Organization, pki.SenderOrg) {
		t.Errorf("subject %v, want CN phuong-ben-thanh, O %s", cert.Subject, pki.SenderOrg)
	}
	if d := time.Until(cert.NotAfter); d < 364*24*time.Hour {
		t.Errorf("valid for %s only", d)
	}
	// Bad input names what is wrong; a data dir without a CA makes none.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), 0o600)
	if _, _, err := run(t, "--data-dir", upper, "forward", "sign-sender", "x", bad); err == nil || !strings.Contains(err.Error(), "not a PEM certificate request") {
		t.Errorf("sign-sender of a non-request: %v", err)
	}
	empty := t.TempDir()
	if _, _, err := run(t, "--data-dir", empty, "forward", "sign-sender", "x", reqFile); err == nil || !strings.Contains(err.Error(), "no certificate authority") {
		t.Errorf("sign-sender without a CA: %v", err)
	}
	if _, err := os.Stat(filepath.Join(empty, "pki", "ca.pem")); err == nil {
		t.Error("sign-sender made a CA")
	}
}
