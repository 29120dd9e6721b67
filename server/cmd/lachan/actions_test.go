package main

import (
	"maps"
	"strings"
	"testing"
)

func TestParseActionArgs(t *testing.T) {
	cases := []struct {
		kind string
		in   []string
		want map[string]string
		err  string
	}{
		{"quarantine-file", []string{"/tmp/a b=c"}, map[string]string{"path": "/tmp/a b=c"}, ""},
		{"quarantine-file", []string{"path=/tmp/x"}, map[string]string{"path": "/tmp/x"}, ""},
		{"kill-process", []string{"4242", "sha256=" + strings.Repeat("a", 64)}, map[string]string{"pid": "4242", "sha256": strings.Repeat("a", 64)}, ""},
		{"kill-process", []string{"4242"}, nil, "start"},
		{"osquery", []string{"select * from processes where name = 'x'"}, map[string]string{"sql": "select * from processes where name = 'x'"}, ""},
		{"isolate", []string{"now"}, nil, "KEY=VALUE"},
		{"block-address", []string{"10.0.0.1", "10.0.0.2"}, nil, "twice"},
		{"block-address", []string{"not-an-ip"}, nil, "not an IP"},
		{"collect-file", []string{"path=/a", "mode=fast"}, nil, "unknown argument"},
	}
	for _, c := range cases {
		got, err := parseActionArgs(c.kind, c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %q: %v, want an error with %q", c.kind, c.in, err, c.err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, c.want) {
			t.Errorf("%s %q: %v %v, want %v", c.kind, c.in, got, err, c.want)
		}
	}
}
