package arch

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/test/wineprefix"
)

// TestWindowsAgentBuilds keeps the agent building for Windows (without
// cgo, so without YARA) and, where Wine is installed, runs it once.
func TestWindowsAgentBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("cross build skipped in -short mode")
	}
	exe := filepath.Join(t.TempDir(), "lachan-agent.exe")
	cmd := exec.Command("go", "build", "-o", exe, module+"agent/cmd/lachan-agent")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows build: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("wine"); err != nil {
		t.Log("wine not installed: the Windows binary was built but not run")
		return
	}
	// In the prefix test/windows uses: Go's runtime needs a DLL that
	// Debian's Wine lacks, and the prefix provides it.
	out, errOut, err := wineprefix.Run(wineprefix.Env(t), time.Minute, exe, "--version")
	if err != nil || !strings.Contains(string(out), "lachan-agent") {
		t.Fatalf("under wine: %v\n%s%s", err, out, errOut)
	}
}
