package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"lachan/test/harness"
)

var bins struct{ server, agent string }

func TestMain(m *testing.M) {
	os.Exit(harness.RunWithBinaries(m, func(_, server, agent string) error {
		bins.server, bins.agent = server, agent
		return nil
	}))
}

// chromium finds Debian's Chromium; without it the test fails under CI
// and is skipped elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium); the browser tests cannot run")
	}
	t.Skip("chromium is not installed; CI=true makes this a failure")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and returns
// a tab's context. The server's certificate comes from its own test CA,
// so certificate errors are ignored: the browser talks to loopback only.
func newBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("lang", "vi-VN"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now, so that a missing or broken one fails here.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// screenshotEnv names the variable that makes the tests refresh the
// README's screenshots in docs/console/. Without it they go to the test's
// temporary directory, so that a test run leaves the working tree as it
// found it; `make screenshots` sets it.
const screenshotEnv = "LACHAN_SCREENSHOTS"

// screenshot saves the viewport as NAME.png: in docs/console/ when
// screenshotEnv is 1, else in a temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(png) < 1000 {
		t.Fatalf("screenshot %s: only %d bytes", name, len(png))
	}
	dir := t.TempDir()
	if os.Getenv(screenshotEnv) == "1" {
		repo, err := harness.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(repo, "docs", "console")
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
