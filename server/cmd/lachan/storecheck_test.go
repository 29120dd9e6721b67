package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/store/embedded"
)

// TestStoreCheckRepair damages a table of a stopped store and runs `store
// check` and `store repair` on it.
func TestStoreCheckRepair(t *testing.T) {
	data := t.TempDir()
	cfg := embedded.DefaultConfig()
	cfg.Dir = filepath.Join(data, "store")
	e, err := embedded.Open(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]event.Event, 2000)
	for i := range evs {
		evs[i] = event.New(event.DatasetOsquery, time.Date(2024, 5, 1, 0, 0, i, 0, time.UTC))
		evs[i].ID = fmt.Sprintf("ev-%04d", i)
		evs[i].Set("message", strings.Repeat("m", 300))
	}
	if _, err := e.PutEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "--data-dir", data, "store", "check")
	if err != nil || !strings.Contains(out, "clean") {
		t.Fatalf("check of a clean store: %v\n%s", err, out)
	}

	tables, _ := filepath.Glob(filepath.Join(cfg.Dir, "*.sst"))
	var big string
	var size int64
	for _, p := range tables {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			big, size = p, fi.Size()
		}
	}
	b, _ := os.ReadFile(big)
	b[size/2] ^= 0xff
	if err := os.WriteFile(big, b, 0o600); err != nil {
		t.Fatal(err)
	}

	out, _, err = run(t, "--data-dir", data, "store", "check")
	if !errors.Is(err, errStoreDamaged) || !strings.Contains(out, "table "+filepath.Base(big)+" is corrupt at offset") {
		t.Fatalf("check of a damaged store: %v\n%s", err, out)
	}
	out, _, err = run(t, "--data-dir", data, "store", "repair")
	if err != nil || !strings.Contains(out, "kept") {
		t.Fatalf("repair: %v\n%s", err, out)
	}
	if kept, _ := filepath.Glob(filepath.Join(data, "damaged-*", filepath.Base(big))); len(kept) != 1 {
		t.Fatalf("damaged table not kept aside: %v", kept)
	}
	if out, _, err = run(t, "--data-dir", data, "store", "check"); err != nil {
		t.Fatalf("check after repair: %v\n%s", err, out)
	}
	e, err = embedded.Open(cfg, logging.Discard())
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	e.Close()
}
