package embedded

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"lachan/internal/logging"
)

// BenchmarkOpen opens the host-window store (see BenchmarkQueryHostWindow)
// with and without the check of every table's block checksums, so that the
// cost verify_tables adds to each start is known for a store of that size.
func BenchmarkOpen(b *testing.B) {
	total := benchEvents(b)
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("lachan-bench-hostwindow-%s-%d", hostWindowLayout, total))
	if err := buildHostWindow(b, dir, total); err != nil {
		b.Fatal(err)
	}
	var size int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	for _, verify := range []bool{false, true} {
		b.Run(fmt.Sprintf("verify_tables=%v", verify), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Dir, cfg.VerifyTables = dir, verify
			for range b.N {
				e, err := Open(cfg, logging.Discard())
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size)/1e6, "store-MB")
		})
	}
}
