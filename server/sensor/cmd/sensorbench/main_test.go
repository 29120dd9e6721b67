package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

func TestFlowMemory(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-flowmem", "5000", "-dir", t.TempDir()}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`5000 flows open at once: [0-9.]+ MiB live heap, (\d+) bytes per flow`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output %q", out.String())
	}
	// A flow is a 176-byte structure and its slot in the map; far more
	// would mean something else is kept per flow.
	if n, _ := strconv.Atoi(m[1]); n < 176 || n > 600 {
		t.Errorf("%d bytes per flow, want between 176 and 600", n)
	}
}

func TestDecodeMode(t *testing.T) {
	dir := t.TempDir()
	path, cleanup, err := writeCapture(dir, genOptions(10))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-decode", path}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "78 packets 15 records 0 decode-errors\n"; got != want {
		t.Errorf("decode: %q, want %q", got, want)
	}
	if err := run(context.Background(), []string{"-decode", filepath.Join(dir, "missing.pcap")}, &out, io.Discard); err == nil {
		t.Error("decoding a missing file succeeded")
	}
	if err := run(context.Background(), []string{"-rounds", "0"}, &out, io.Discard); err == nil {
		t.Error("-rounds 0 accepted")
	}
}
