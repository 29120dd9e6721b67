package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lachan/internal/logging"
	"lachan/server/store/embedded/embeddedtest"
)

// TestNewRefusesBadPlaybooks: a playbook directory with a broken playbook
// stops the start and names the file, line and column.
func TestNewRefusesBadPlaybooks(t *testing.T) {
	dir := t.TempDir()
	bad := "id: x\ntitle: t\ntrigger: {rules: [r]}\nsteps:\n  - contain: isolat\n"
	if err := os.WriteFile(filepath.Join(dir, "x.yml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Playbook.Enabled, cfg.Playbook.Dir = true, dir
	s, err := New(context.Background(), cfg, embeddedtest.Open(t), logging.Discard())
	if err == nil {
		s.ln.Close()
		t.Fatal("New succeeded")
	}
	if want := filepath.Join(dir, "x.yml") + `:5:14: step step-1: unknown action "isolat"`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}
