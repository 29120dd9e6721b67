package indicator

import (
	"os"
	"strings"
	"testing"
)

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{
		"[domain-name:value = 'a.example']",
		"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'] OR [url:value = 'http://x/']",
		"[ipv4-addr:value IN ('10.0.0.0/8', '192.0.2.1')]",
		"[ipv6-addr:value = 2001:db8::1]",
		"[a:b = 'x' AND c:d = 'y'] WITHIN 5 SECONDS",
		"[url:value = 'it\\'s']",
		"[",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		vals, err := ParsePattern(p)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "offset ") && !strings.HasPrefix(err.Error(), "pattern longer") {
				t.Fatalf("error without an offset: %v", err)
			}
			return
		}
		if len(vals) == 0 {
			t.Fatalf("%q parsed to no values", p)
		}
		for _, v := range vals {
			if v.Type == "" {
				t.Fatalf("value without a type: %+v", v)
			}
			// Whatever normalises must normalise to itself again.
			if n, err := Normalize(v.Type, v.Value); err == nil {
				if n2, err := Normalize(v.Type, n); err != nil || n2 != n {
					t.Fatalf("normalise %q: %q then %q (%v)", v.Value, n, n2, err)
				}
			}
		}
	})
}

func FuzzParseSTIX(f *testing.F) {
	if b, err := os.ReadFile("testdata/bundle.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"type":"indicator","id":"indicator--1","pattern":"[domain-name:value = 'x.example']"}`))
	f.Add([]byte(`[{"type":"indicator","id":"i","pattern":"[url:value = 'http://a/']","valid_from":"bad"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inds, _ := ParseSTIX(strings.NewReader(string(data)), "fuzz")
		for _, ind := range inds {
			c := ind
			if err := c.Check(); err != nil || c.Value != ind.Value {
				t.Fatalf("returned indicator does not check: %+v: %v", ind, err)
			}
		}
	})
}

func FuzzParsePlain(f *testing.F) {
	if b, err := os.ReadFile("testdata/list.txt"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("evil.example\r\n10.0.0.0/8 # net\nurl http://x/#y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inds, errs := ParsePlain(strings.NewReader(string(data)), "fuzz")
		for _, ind := range inds {
			c := ind
			if err := c.Check(); err != nil || c.Value != ind.Value {
				t.Fatalf("returned indicator does not check: %+v: %v", ind, err)
			}
		}
		for _, err := range errs {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error without a line: %v", err)
			}
		}
	})
}
