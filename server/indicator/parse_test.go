package indicator

import (
	"os"
	"strings"
	"testing"
)

func TestParseSTIXBundle(t *testing.T) {
	f, err := os.Open("testdata/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inds, errs := ParseSTIX(f, "bundle.json")
	got := map[string]string{}
	for _, ind := range inds {
		got[ind.ID] = ind.Type + " " + ind.Value
		if ind.Source != "bundle.json" || ind.STIXID == "" || ind.ValidFrom.IsZero() {
			t.Errorf("%s: source %q, stix id %q, valid_from %v", ind.ID, ind.Source, ind.STIXID, ind.ValidFrom)
		}
	}
	want := map[string]string{
		"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f":   "domain evil.example",
		"indicator--d81f86b9-975b-4c0b-875e-810c5ad45a4f#1": "sha256 aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f",
		"indicator--d81f86b9-975b-4c0b-875e-810c5ad45a4f#2": "md5 44d88612fea8a8f36de82e1278abb02f",
		"indicator--1f4b3a55-4f37-4d64-9d8e-5f1c2b7a9e10#1": "ip 198.51.100.0/24",
		"indicator--1f4b3a55-4f37-4d64-9d8e-5f1c2b7a9e10#2": "ip 2001:db8::1",
		"indicator--0a3c1e45-7b2d-4e6f-8a9b-1c2d3e4f5a6b":   "url http://download.example/payload.exe",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s = %q, want %q", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d indicators, want %d: %v", len(got), len(want), got)
	}
	wantErrs := []string{
		`indicator--bad0and0-0000-4000-8000-000000000001: pattern "[ipv4-addr:value = '10.0.0.1' AND domain-name:value = 'x.example']": offset 30: "AND" inside an observation is not supported`,
		`indicator--bad0path-0000-4000-8000-000000000002: pattern "[process:name = 'evil.exe']": offset 1: object path "process:name" is not supported`,
		`indicator--bad0type-0000-4000-8000-000000000003: pattern_type "snort" is not supported`,
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors %q, want %d", errs, len(wantErrs))
	}
	for i, w := range wantErrs {
		if !strings.Contains(errs[i].Error(), w) || !strings.HasPrefix(errs[i].Error(), "bundle.json: ") {
			t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
		}
	}
}

func TestParsePattern(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "[domain-name:value = 'a.example']", want: "domain=a.example"},
		{in: "[url:value = 'http://x.example/it\\'s']", want: "url=http://x.example/it's"},
		{in: "[ipv6-addr:value = 2001:db8::2]", want: "ip=2001:db8::2"},
		{in: "[file:hashes.'SHA-1' = '3395856ce81f2b7382dee72602f798b642f14140'] or [domain-name:value IN ('b.example', 'c.example')]",
			want: "sha1=3395856ce81f2b7382dee72602f798b642f14140 domain=b.example domain=c.example"},
		{in: "[domain-name:value = 'a.example'] WITHIN 5 SECONDS", err: `offset 34: "WITHIN" between observations is not supported`},
		{in: "[domain-name:value != 'a.example']", err: `offset 19: operator "!" is not supported`},
		{in: "[domain-name:value MATCHES 'a']", err: `operator "MATCHES" is not supported`},
		{in: "[domain-name:value = 'a.example'", err: "unexpected end inside an observation"},
		{in: "[domain-name:value = 'a.example]", err: "unterminated string"},
		{in: "domain-name:value = 'a'", err: "offset 0: expected ["},
		{in: "[x = 'a']", err: "expected an object path"},
		{in: "", err: "expected ["},
	} {
		vals, err := ParsePattern(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, v.Type+"="+v.Value)
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParsePlain(t *testing.T) {
	f, err := os.Open("testdata/list.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inds, errs := ParsePlain(f, "list.txt")
	var got []string
	for _, ind := range inds {
		got = append(got, ind.Type+" "+ind.Value)
		if ind.Source != "list.txt" || ind.ID == "" {
			t.Errorf("%v: source or id missing", ind)
		}
	}
	want := []string{
		"domain evil.example", "ip 203.0.113.7", "ip 192.0.2.0/28", "md5 44d88612fea8a8f36de82e1278abb02f",
		"sha1 3395856ce81f2b7382dee72602f798b642f14140", "url https://bad.example/x?y=1#frag", "domain 1234.example",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantErrs := []string{"list.txt:9: 5 words", "list.txt:10: sha256 indicator \"abc\": 3 hex digits, want 64"}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors %q, want %q", errs, wantErrs)
	}
	for i, w := range wantErrs {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %q, want prefix %q", errs[i], w)
		}
	}
}

func TestParsePlainLongLine(t *testing.T) {
	in := "evil.example\n" + strings.Repeat("a", maxLine+10) + "\n203.0.113.9"
	inds, errs := ParsePlain(strings.NewReader(in), "x")
	if len(inds) != 2 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "x:2: line longer") {
		t.Errorf("indicators %v, errors %v", inds, errs)
	}
}
