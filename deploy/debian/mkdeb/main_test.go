package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDebVersion(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "1.2.0", want: "1.2.0"},
		{in: "v1.2.0\n", want: "1.2.0"},
		{in: "v1.2.0-3-gabc1234", want: "1.2.0+3.gabc1234"},
		{in: "v1.2.0-3-gabc1234-dirty", want: "1.2.0+3.gabc1234.dirty"},
		{in: "0.0.0+41.gdd47383", want: "0.0.0+41.gdd47383"},
		{in: "1.0~rc1", want: "1.0~rc1"},
		{in: "", err: "empty"},
		{in: "dd47383", err: "starts with a digit"},
		{in: "1.0 beta", err: "starts with a digit"},
		{in: "1.0_1", err: "starts with a digit"},
	} {
		got, err := debVersion(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("debVersion(%q) = %q, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("debVersion(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestContentFiles(t *testing.T) {
	if c, err := contentFiles(""); err != nil || len(c) != 0 {
		t.Fatalf("no content dir: %v, %v", c, err)
	}
	dir := t.TempDir()
	if _, err := contentFiles(dir); err == nil || !strings.Contains(err.Error(), "make content") {
		t.Fatalf("empty content dir: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "lachan-default.pack"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(dir, "release.pub"), []byte("ed25519:x"), 0o644)
	c, err := contentFiles(dir)
	if err != nil || len(c) != 2 {
		t.Fatalf("content files: %v, %v", c, err)
	}
	got := map[string]bool{}
	for _, f := range c {
		got[f.Destination] = true
	}
	if !got[shippedPack] || !got[shippedKey] {
		t.Errorf("destinations %v", got)
	}
	// The packaged configuration names the same places.
	conf, err := os.ReadFile("../lachan/server.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{shippedPack, shippedKey} {
		if !strings.Contains(string(conf), p) {
			t.Errorf("server.yml does not name %s", p)
		}
	}
}
