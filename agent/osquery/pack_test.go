package osquery

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"lachan/rules"
)

func TestLoadPack(t *testing.T) {
	fsys := fstest.MapFS{
		"good.conf":     {Data: []byte(`{"queries": {"b": {"query": "SELECT 1;", "interval": 60}, "a": {"query": "SELECT 2", "interval": "3600", "platform": "linux"}}}`)},
		"syntax.conf":   {Data: []byte("{\n  \"queries\": {\n    \"a\": {\"query\": \"SELECT 1\" \"interval\": 60}\n  }\n}\n")},
		"type.conf":     {Data: []byte("{\"queries\": {\"a\": {\"query\": 5}}}")},
		"empty.conf":    {Data: []byte(`{"queries": {"blank": {"query": " ; ", "interval": 60}}}`)},
		"interval.conf": {Data: []byte(`{"queries": {"fast": {"query": "SELECT 1", "interval": 1}, "none": {"query": "SELECT 1"}, "text": {"query": "SELECT 1", "interval": "hourly"}}}`)},
		"noq.conf":      {Data: []byte(`{"queries": {}}`)},
		"name.conf":     {Data: []byte(`{"queries": {"bad name": {"query": "SELECT 1", "interval": 60}}}`)},
	}
	cases := []struct {
		file string
		want []string // substrings of the error; none means success
	}{
		{"good.conf", nil},
		{"syntax.conf", []string{"syntax.conf:3:32"}},
		{"type.conf", []string{"type.conf:1:"}},
		{"empty.conf", []string{`empty.conf: query "blank": empty SQL`}},
		{"interval.conf", []string{`query "fast": interval: 1 seconds`, `query "none": interval: missing`, `query "text": interval: "hourly" is not`}},
		{"noq.conf", []string{"noq.conf: no queries"}},
		{"name.conf", []string{`query "bad name": name`}},
		{"missing.conf", []string{"missing.conf"}},
	}
	for _, c := range cases {
		p, err := LoadPack(fsys, c.file)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.file, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error", c.file)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", c.file, err, w)
			}
		}
		if len(p.Queries) != 0 {
			t.Errorf("%s: queries returned with an error", c.file)
		}
	}
	p, _ := LoadPack(fsys, "/good.conf")
	if len(p.Queries) != 2 || p.Queries[0].Name != "a" || p.Queries[0].Interval != time.Hour || p.Queries[1].SQL != "SELECT 1;" {
		t.Errorf("good pack: %+v", p)
	}
}

func TestBaselinePack(t *testing.T) {
	p, err := LoadPack(rules.FS, "osquery/baseline.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"processes", "listening_ports", "users", "startup_items", "osquery_info", "system_info"} {
		found := false
		for _, q := range p.Queries {
			found = found || q.Name == name
		}
		if !found {
			t.Errorf("baseline pack lacks %s", name)
		}
	}
}

func TestRunsOn(t *testing.T) {
	cases := []struct {
		platform, goos string
		want           bool
	}{
		{"", "linux", true}, {"all", "windows", true}, {"posix", "darwin", true}, {"posix", "windows", false},
		{"windows", "linux", false}, {"linux, darwin", "darwin", true}, {"freebsd", "linux", false},
	}
	for _, c := range cases {
		if got := runsOn(c.platform, c.goos); got != c.want {
			t.Errorf("runsOn(%q, %q) = %v", c.platform, c.goos, got)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "socket") || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("empty config: %v", err)
	}
}
