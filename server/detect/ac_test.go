package detect

import (
	"slices"
	"strings"
	"testing"
)

func naiveFind(lits []string, text string) []int {
	var out []int
	for i, l := range lits {
		if l != "" && strings.Contains(text, l) {
			out = append(out, i)
		}
	}
	return out
}

func acFind(lits []string, text string) []int {
	seen := map[int]bool{}
	newAutomaton(lits).scan(text, func(i int) { seen[i] = true })
	var out []int
	for i := range lits {
		if seen[i] {
			out = append(out, i)
		}
	}
	return out
}

func TestAutomaton(t *testing.T) {
	tests := []struct {
		lits []string
		text string
	}{
		{[]string{"he", "she", "his", "hers"}, "ushers"},
		{[]string{"a", "ab", "bab", "bc", "bca", "c", "caa"}, "abccab"},
		{[]string{`\cmd.exe`, ".exe", "cmd", `c:\windows\`}, `c:\windows\system32\cmd.exe /c whoami`},
		{[]string{"aaa", "aa"}, "aaaa"},
		{[]string{"xyz"}, ""},
		{[]string{"nẵng", "ẵ"}, "đà nẵng"},
	}
	for _, tt := range tests {
		if got, want := acFind(tt.lits, tt.text), naiveFind(tt.lits, tt.text); !slices.Equal(got, want) {
			t.Errorf("%q in %q: found %v, want %v", tt.lits, tt.text, got, want)
		}
	}
}

// FuzzAutomaton checks the automaton against strings.Contains.
func FuzzAutomaton(f *testing.F) {
	f.Add("he,she,his,hers", "ushers")
	f.Add("a,ab,bab,bc,bca,c,caa", "abccab")
	f.Add(`\cmd.exe,.exe,cmd`, `c:\windows\cmd.exe`)
	f.Fuzz(func(t *testing.T, lits, text string) {
		ls := strings.Split(lits, ",")
		ls = slices.DeleteFunc(ls, func(s string) bool { return s == "" })
		if got, want := acFind(ls, text), naiveFind(ls, text); !slices.Equal(got, want) {
			t.Fatalf("%q in %q: found %v, want %v", ls, text, got, want)
		}
	})
}
