package main

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lachan/server/forward"
	"lachan/server/pki"
	"lachan/server/report"
)

// TestReportVerify: a report signed with the server's report key verifies
// with the key read from the data directory or given with --key; a changed
// byte, another key or a missing signature exits 1 saying so.
func TestReportVerify(t *testing.T) {
	data := t.TempDir()
	ca, err := pki.LoadOrCreate(filepath.Join(data, "pki"), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "bao-cao.pdf")
	doc := []byte("%PDF-1.3\nBáo cáo an toàn thông tin\n%%EOF\n")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+report.SigSuffix, report.Sign(doc, ca.ReportSigner()), 0o600); err != nil {
		t.Fatal(err)
	}
	key := forward.FormatPublicKey(ca.ReportSigner().Public().(ed25519.PublicKey))
	out, _, err := run(t, "--data-dir", data, "report", "verify", file)
	if err != nil || !strings.Contains(out, "intact") || !strings.Contains(out, filepath.Join(data, "pki")) {
		t.Fatalf("key from the data directory: %v\n%s", err, out)
	}
	if out, _, err := run(t, "--data-dir", t.TempDir(), "report", "verify", file, "--key", key); err != nil || !strings.Contains(out, "--key") {
		t.Fatalf("--key: %v\n%s", err, out)
	}

	changed := []byte(strings.Replace(string(doc), "Báo", "Bảo", 1))
	if err := os.WriteFile(file, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "--data-dir", data, "report", "verify", file)
	if !errors.Is(err, errReportChanged) || exitCode(err) != 1 || !strings.Contains(out, "CHANGED") || !strings.Contains(err.Error(), "changed after signing") {
		t.Fatalf("a changed byte: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, _, err := run(t, "--data-dir", data, "report", "verify", file, "--key", forward.FormatPublicKey(other)); !errors.Is(err, report.ErrWrongKey) {
		t.Fatalf("another key: %v", err)
	}
	if _, _, err := run(t, "--data-dir", data, "report", "verify", filepath.Join(dir, "missing.pdf")); err == nil || !strings.Contains(err.Error(), "missing.pdf") {
		t.Fatalf("a missing file: %v", err)
	}
}
