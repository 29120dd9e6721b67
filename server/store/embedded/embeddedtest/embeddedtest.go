// Package embeddedtest opens throwaway embedded stores for the tests of
// packages that need a real store.Store.
package embeddedtest

import (
	"testing"

	"lachan/internal/logging"
	"lachan/server/store/embedded"
)

// Open opens an embedded store in a fresh temporary directory, without
// fsync, and closes it when the test ends.
func Open(t testing.TB) *embedded.Engine {
	t.Helper()
	cfg := embedded.DefaultConfig()
	cfg.Dir, cfg.Sync = t.TempDir(), false
	st, err := embedded.Open(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
