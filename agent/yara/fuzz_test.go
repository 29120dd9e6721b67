//go:build cgo

package yara

import (
	"testing"
	"testing/fstest"
)

// FuzzCompile feeds arbitrary rule text: Compile must not panic, and must
// give rules or errors, never neither.
func FuzzCompile(f *testing.F) {
	f.Add("rule a { strings: $s = \"x\" condition: $s }")
	f.Add("include \"b.yar\"\nrule a { condition: b }")
	f.Add("import \"pe\"\nrule a { condition: pe.is_dll() and filename == \"x\" }")
	f.Add("rule a { condition: $b }")
	f.Add("rule { ")
	f.Fuzz(func(t *testing.T, src string) {
		fsys := fstest.MapFS{
			"a.yar": {Data: []byte(src)},
			"b.yar": {Data: []byte("private rule b { condition: true }")},
		}
		r, errs := Compile(fsys, ".")
		if r == nil && len(errs) == 0 {
			t.Fatal("no rules and no errors")
		}
		for _, err := range errs {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
		}
	})
}
