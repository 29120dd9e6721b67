package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/store"
	"lachan/server/store/storetest"
)

func testConfig(dir string, sync bool) Config {
	cfg := DefaultConfig()
	cfg.Dir, cfg.Sync = dir, sync
	cfg.CacheBytes, cfg.MemTableBytes = 8<<20, 4<<20
	return cfg
}

func openAt(t testing.TB, dir string, sync bool) *Engine {
	t.Helper()
	e, err := Open(testConfig(dir, sync), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openAt(t, t.TempDir(), false) })
}

// TestConformanceSmallGenerations runs the suite with index generations of
// three events, so that every search crosses generations and every write
// batch fills some up.
func TestConformanceSmallGenerations(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		e := openAt(t, t.TempDir(), false)
		e.genSize = 3
		return e
	})
	storetest.RunReopen(t, func(t *testing.T, dir string) store.Store {
		e := openAt(t, dir, true)
		e.genSize = 3
		return e
	})
}

func TestReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T, dir string) store.Store { return openAt(t, dir, true) })
}

func TestOpenTwice(t *testing.T) {
	dir := t.TempDir()
	openAt(t, dir, false)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	spellings := map[string]string{
		"same path": dir,
		"unclean":   dir + "/./",
		"symlink":   link,
	}
	for name, d := range spellings {
		t.Run(name, func(t *testing.T) {
			e, err := Open(testConfig(d, false), logging.Discard())
			if err == nil {
				e.Close()
				t.Fatal("a second Open of an open directory succeeded")
			}
			if !strings.Contains(err.Error(), "in use") {
				t.Errorf("error does not say the directory is in use: %v", err)
			}
		})
	}
}

func TestCloseTwice(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(testConfig(dir, false), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	// The lock is gone: the directory opens again.
	e2, err := Open(testConfig(dir, false), logging.Discard())
	if err != nil {
		t.Fatalf("reopen after Close: %v", err)
	}
	e2.Close()
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"default with dir", func(c *Config) {}, ""},
		{"no dir", func(c *Config) { c.Dir = "" }, "dir must be set"},
		{"tiny cache", func(c *Config) { c.CacheBytes = 10 }, "cache_bytes 10"},
		{"huge memtable", func(c *Config) { c.MemTableBytes = 4 << 30 }, "memtable_bytes"},
		{"no compactions", func(c *Config) { c.Compactions = 0 }, "compactions 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Dir = "/tmp/x"
			tc.change(&cfg)
			err := cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := Open(Config{}, logging.Discard()); err == nil {
		t.Fatal("Open accepted an empty config")
	}
}

func TestLayoutMismatch(t *testing.T) {
	dir := t.TempDir()
	e := openAt(t, dir, false)
	if err := e.db.Set([]byte(keyLayout), []byte("99"), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(testConfig(dir, false), logging.Discard())
	if err == nil || !strings.Contains(err.Error(), `layout "99"`) {
		t.Fatalf("Open of a foreign layout: %v", err)
	}
}

func TestTimestampRange(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	ev := storetest.Event("far", storetest.T0.AddDate(400, 0, 0), event.DatasetOsquery, nil)
	_, err := e.PutEvents(context.Background(), []event.Event{ev})
	var fe *event.FieldError
	if !errors.As(err, &fe) || fe.Field != event.FieldTimestamp {
		t.Fatalf("event in 2426: %v, want a field error on @timestamp", err)
	}
}

// TestIndexEdgeValues searches index values that need escaping or hashing:
// each must find its own event only.
func TestIndexEdgeValues(t *testing.T) {
	e := openAt(t, t.TempDir(), false)
	long := strings.Repeat("h", 300)
	values := []string{"a", "a\x00", "a\x00b", "a\x01", "", long, long + "x", long[:cutIndexValue]}
	var evs []event.Event
	for i, v := range values {
		evs = append(evs, storetest.Event(fmt.Sprintf("e%d", i), storetest.T0, event.DatasetOsquery,
			map[string]any{"host.id": v, "rule.id": []string{v, "shared"}}))
	}
	if _, err := e.PutEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		for _, field := range []string{"host.id", "rule.id"} {
			page, err := e.SearchEvents(context.Background(), store.Query{Terms: map[string][]string{field: {v}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Events) != 1 || page.Events[0].ID != fmt.Sprintf("e%d", i) {
				t.Errorf("%s %q: found %d events, want e%d alone", field, v, len(page.Events), i)
			}
		}
	}
}
