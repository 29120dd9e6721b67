package detect

import (
	"strings"
	"testing"
)

func TestParseCondition(t *testing.T) {
	tests := []struct {
		in   string
		want string // String() of the tree, or the error
	}{
		{"sel", "sel"},
		{"a or b and c", "(a or (b and c))"},
		{"a and b or c", "((a and b) or c)"},
		{"not a and b", "(not a and b)"},
		{"not (a and b)", "not (a and b)"},
		{"a or b or c", "(a or b or c)"},
		{"((a))", "a"},
		{"1 of sel* and not all of filter_*", "(1 of sel* and not all of filter_*)"},
		{"any of them", "1 of them"},
		{"ALL OF THEM", "all of them"},
		{"  a\n  and b  ", "(a and b)"},
		{"", "offset 0: unexpected end of condition, expected a selection name, \"not\", \"(\" or \"x of\""},
		{"a and", "offset 5: unexpected end of condition, expected a selection name, \"not\", \"(\" or \"x of\""},
		{"a b", `offset 2: unexpected "b"`},
		{"(a or b", `offset 7: missing ")" to close "(" at offset 0`},
		{"a)", `offset 1: unexpected ")"`},
		{"and a", `offset 0: unexpected "and", expected a selection name`},
		{"2 of sel*", `offset 0: quantifier "2" is not supported, use "1 of" or "all of"`},
		{"1 of", `offset 4: expected a selection name pattern or "them" after "of"`},
		{"1 of (a)", `offset 5: expected a selection name pattern or "them" after "of"`},
		{"sel*", `offset 0: wildcard in "sel*" is only allowed after "1 of" or "all of"`},
		{"sel | count() > 4", `offset 4: aggregation expressions ("| count() ...") are not supported yet; use a correlation rule`},
		{strings.Repeat("not ", 65) + "a", "offset 256: nested deeper than 64"},
		{strings.Repeat("(", 65) + "a" + strings.Repeat(")", 65), "offset 64: nested deeper than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 20)], func(t *testing.T) {
			e, err := ParseCondition(tt.in)
			var got string
			if err != nil {
				got = err.Error()
			} else {
				got = e.String()
			}
			if got != tt.want {
				t.Errorf("ParseCondition(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestMatchName(t *testing.T) {
	tests := []struct {
		pat, name string
		want      bool
	}{
		{"sel", "sel", true},
		{"sel", "sel2", false},
		{"sel*", "sel", true},
		{"sel*", "selection_1", true},
		{"*_main_*", "filter_main_x", true},
		{"*_main_*", "filter_optional", false},
		{"*", "anything", true},
	}
	for _, tt := range tests {
		if got := matchName(tt.pat, tt.name); got != tt.want {
			t.Errorf("matchName(%q, %q) = %v, want %v", tt.pat, tt.name, got, tt.want)
		}
	}
}
