package querypack

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadErrors(t *testing.T) {
	cases := map[string]string{
		"{\n  \"queries\": {\n    \"a\": {\"query\": \"SELECT 1;\", \"interval\": }\n  }\n}": "p.conf:3:",
		`{"queries": {}}`: "p.conf: no queries",
		`{"queries": {"a": {"query": " ; ", "interval": 60}}}`:          `query "a": empty SQL`,
		`{"queries": {"a": {"query": "SELECT 1", "interval": 5}}}`:      `query "a": interval: 5 seconds`,
		`{"queries": {"a b": {"query": "SELECT 1", "interval": 60}}}`:   `query "a b": name must be`,
		`{"queries": {"a": {"query": "SELECT 1", "interval": "soon"}}}`: `"soon" is not a whole number`,
		`{"queries": {"a": {"query": "SELECT 1", "interval": "3600"}}}`: "",
	}
	for src, want := range cases {
		p, err := Load(fstest.MapFS{"p.conf": {Data: []byte(src)}}, "p.conf")
		if want == "" {
			if err != nil || len(p.Queries) != 1 || p.Queries[0].Interval.Seconds() != 3600 {
				t.Errorf("%s: %+v %v", src, p, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", src, err, want)
		}
	}
}

// FuzzLoad: packs come from content packs and policies; a hostile one is
// refused, never a panic, and what loads is well formed.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"queries": {"a": {"query": "SELECT 1;", "interval": 60, "platform": "all"}}}`))
	f.Add([]byte(`{"queries": {"a": {"query": "SELECT 1;", "interval": "99999999999999999999"}}}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Load(fstest.MapFS{"p.conf": {Data: src}}, "p.conf")
		if err != nil {
			return
		}
		for _, q := range p.Queries {
			if !ValidName(q.Name) || q.Interval.Seconds() < MinInterval || q.Interval.Seconds() > MaxInterval || strings.TrimSpace(q.SQL) == "" {
				t.Fatalf("accepted %+v", q)
			}
		}
	})
}
