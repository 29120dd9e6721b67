package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.pcap")
	tests := []struct {
		name string
		args []string
		want string // part of the error; "" for success
	}{
		{"ok", []string{"-out", out, "-start", "2024-01-02T03:04:05Z", "-flows", "2"}, ""},
		{"no out", nil, "-out FILE is required"},
		{"bad client", []string{"-out", out, "-client", "nope"}, "-client"},
		{"ipv6 dns", []string{"-out", out, "-dns", "::1"}, "DNSServer must be an IPv4"},
		{"bad start", []string{"-out", out, "-start", "yesterday"}, "-start"},
		{"bad flows", []string{"-out", out, "-flows", "-3"}, "Flows"},
		{"unknown flag", []string{"-bogus"}, "bogus"},
		{"extra args", []string{"-out", out, "more"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args, io.Discard)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Stat(out); err != nil || fi.Size() < 24 {
					t.Errorf("no capture written: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}
