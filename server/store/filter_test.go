package store

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"admin*", "administrator", true},
		{"admin*", "xadmin", false},
		{"*.exe", "cmd.exe", true},
		{"*.exe", "cmd.exe.txt", false},
		{"c?d", "cmd", true},
		{"c?d", "cd", false},
		{"?", "é", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"**", "", true},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{`a\\*`, `a\b`, true},
		{"plain", "plain", true},
		{"plain", "plainer", false},
	}
	for _, tc := range tests {
		if got := newGlob(tc.pattern).match(tc.s); got != tc.want {
			t.Errorf("%q matching %q = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestTimeWindow(t *testing.T) {
	d := func(s string) time.Time { tm, _ := ParseTime(s); return tm }
	rng := func(lo, hi string, inc bool) *Expr {
		x := &Expr{Op: OpRange, Field: "@timestamp"}
		if lo != "" {
			x.Lo = &Bound{Value: lo, Inclusive: inc}
		}
		if hi != "" {
			x.Hi = &Bound{Value: hi, Inclusive: inc}
		}
		return x
	}
	tests := []struct {
		name     string
		x        *Expr
		from, to time.Time
	}{
		{"nil", nil, time.Time{}, time.Time{}},
		{"inclusive", rng("2026-11-01", "2026-11-02", true), d("2026-11-01"), d("2026-11-02").Add(time.Nanosecond)},
		{"exclusive", rng("2026-11-01", "2026-11-02", false), d("2026-11-01").Add(time.Nanosecond), d("2026-11-02")},
		{"narrowest of an and", &Expr{Op: OpAnd, Args: []*Expr{rng("2026-11-01", "", true), rng("2026-11-05", "2026-12-01", true)}},
			d("2026-11-05"), d("2026-12-01").Add(time.Nanosecond)},
		{"or is ignored", &Expr{Op: OpOr, Args: []*Expr{rng("2026-11-01", "", true)}}, time.Time{}, time.Time{}},
		{"numbers are ignored", rng("5", "", true), time.Time{}, time.Time{}},
	}
	for _, tc := range tests {
		from, to := tc.x.TimeWindow()
		if !from.Equal(tc.from) || !to.Equal(tc.to) {
			t.Errorf("%s: window [%v, %v), want [%v, %v)", tc.name, from, to, tc.from, tc.to)
		}
	}
}

func TestValidate(t *testing.T) {
	deep := &Expr{Op: OpTerm, Field: "a"}
	for i := 0; i < maxExprDepth+1; i++ {
		deep = &Expr{Op: OpNot, Args: []*Expr{deep}}
	}
	tests := []struct {
		name string
		x    *Expr
		ok   bool
	}{
		{"nil", nil, true},
		{"term", &Expr{Op: OpTerm, Field: "a", Value: "b"}, true},
		{"empty and", &Expr{Op: OpAnd}, true},
		{"unknown op", &Expr{Op: 0}, false},
		{"term with args", &Expr{Op: OpTerm, Field: "a", Args: []*Expr{{Op: OpAnd}}}, false},
		{"and with a field", &Expr{Op: OpAnd, Field: "a"}, false},
		{"bad cidr", &Expr{Op: OpCIDR, Field: "ip", Value: "x"}, false},
		{"range without bounds", &Expr{Op: OpRange, Field: "a"}, false},
		{"text without fields", &Expr{Op: OpText, Value: "x"}, false},
		{"too deep", deep, false},
	}
	for _, tc := range tests {
		err := tc.x.Validate()
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrBadFilter) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// globRef is globMatch as it was before stars jumped to their literal:
// a star swallows one rune at a time, backtracking to the last star only.
// globMatch must agree with it on every input, invalid UTF-8 included
// (where rune boundaries depend on where a walk starts).
func globRef(toks []globTok, s string) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch {
			case t.star:
				starT, starS = ti, si
				ti++
				continue
			case t.any:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					ti, si = ti+1, si+n
					continue
				}
			default:
				if strings.HasPrefix(s[si:], t.lit) {
					ti, si = ti+1, si+len(t.lit)
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starT < 0 || starS >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		ti, si = starT+1, starS
	}
}

func FuzzGlob(f *testing.F) {
	for _, c := range [][2]string{{"*ab*", "xxabyy"}, {"a*b?c", "a-b-bxc"}, {"*é*", "caf\xc3\xa9"}, {"*\x82*", "\xe2\x82\xac"}, {"**a", "aaa"}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 16 || len(s) > 64 {
			return
		}
		g := newGlob(pattern)
		if g.plain {
			return
		}
		if got, want := globMatch(g.toks, s), globRef(g.toks, s); got != want {
			t.Fatalf("glob %q on %q: %v, want %v", pattern, s, got, want)
		}
	})
}
