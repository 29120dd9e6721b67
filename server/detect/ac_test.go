package detect

import (
	"fmt"
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

// acFind finds lits in text with automata of every size of complete
// rows, from one state (all but the root walk fail chains) to all of
// them; it fails the test when they disagree.
// newAutomatonRows is newAutomaton with at most n complete rows.
func newAutomatonRows(lits []string, n int) *automaton {
	defer func(n int) { maxDFAStates = n }(maxDFAStates)
	maxDFAStates = n
	return newAutomaton(lits)
}

func acFind(lits []string, text string) []int {
	defer func(n int) { maxDFAStates = n }(maxDFAStates)
	var first []int
	for _, n := range []int{1, 2, 5, 1 << 20} {
		maxDFAStates = n
		seen := map[int]bool{}
		newAutomaton(lits).scan(text, func(i int) { seen[i] = true })
		var out []int
		for i := range lits {
			if seen[i] {
				out = append(out, i)
			}
		}
		if n == 1 {
			first = out
		} else if !slices.Equal(out, first) {
			panic(fmt.Sprintf("%q in %q: %v with %d complete rows, %v with one", lits, text, out, n, first))
		}
	}
	return first
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
		// The case-folding scan and walks agree with the plain ones on
		// the lowered text wherever they do not give up.
		low := strings.ToLower(text)
		for i := range ls {
			ls[i] = strings.ToLower(ls[i])
		}
		pre, suf := newTrie(ls, false), newTrie(ls, true)
		var p1, p2, s1, s2 []int
		// Outside ASCII, the scan of the lowered text goes on where the
		// folding scan stopped and finds what a whole scan does; with
		// few complete rows, through the states past them too.
		for _, n := range []int{1, 2, 5, maxDFAStates} {
			a := newAutomatonRows(ls, n)
			var f1, f2 []int
			at, cur := a.scanFold(text, func(i int) { f1 = append(f1, i) })
			if at < len(text) {
				a.scanFrom(cur, low[at:], func(i int) { f1 = append(f1, i) })
			}
			a.scan(low, func(i int) { f2 = append(f2, i) })
			if !slices.Equal(f1, f2) {
				t.Fatalf("scanFold from %d with %d complete rows: %v, scan %v", at, n, f1, f2)
			}
		}
		if pre.walkFold(text, false, func(i int) { p1 = append(p1, i) }) {
			pre.walkPrefix(low, func(i int) { p2 = append(p2, i) })
			if !slices.Equal(p1, p2) {
				t.Fatalf("prefix fold %v, plain %v", p1, p2)
			}
		}
		if suf.walkFold(text, true, func(i int) { s1 = append(s1, i) }) {
			suf.walkSuffix(low, func(i int) { s2 = append(s2, i) })
			if !slices.Equal(s1, s2) {
				t.Fatalf("suffix fold %v, plain %v", s1, s2)
			}
		}
		walkFind(t, ls, text)
	})
}

// walkFind checks the folding walks of tries with every size of complete
// rows, from the root's alone to all states', against strings.HasPrefix
// and strings.HasSuffix on the lowered text (ls lower case).
func walkFind(t *testing.T, ls []string, text string) {
	t.Helper()
	defer func(n int) { maxDFAStates = n }(maxDFAStates)
	low := strings.ToLower(text)
	for _, n := range []int{1, 2, 5, 1 << 20} {
		maxDFAStates = n
		for _, reverse := range []bool{false, true} {
			seen := map[int]bool{}
			if !newTrie(ls, reverse).walkFold(text, reverse, func(i int) { seen[i] = true }) {
				continue // not ASCII: the caller walks the lowered text
			}
			for i, l := range ls {
				want := strings.HasPrefix(low, l)
				if reverse {
					want = strings.HasSuffix(low, l)
				}
				if seen[i] != want {
					t.Fatalf("%d complete rows, reverse %v: %q in %q: found %v, want %v", n, reverse, l, text, seen[i], want)
				}
			}
		}
	}
}

// TestFoldAndWalks checks the case-folding scan and the prefix and suffix
// walks against plain string tests.
func TestFoldAndWalks(t *testing.T) {
	lits := []string{`\cmd.exe`, ".exe", "c:\\windows\\", "c:", "whoami", "nẵng"}
	for _, text := range []string{`C:\Windows\System32\CMD.EXE`, "WhoAmI /all", "đà nẵng", "", ".EXE", "C:WhoAmI.exe", "XNẴNG"} {
		low := strings.ToLower(text)
		want := map[string]bool{}
		for _, l := range lits {
			if strings.Contains(low, l) {
				want["c"+l] = true
			}
			if strings.HasPrefix(low, l) {
				want["p"+l] = true
			}
			if strings.HasSuffix(low, l) {
				want["s"+l] = true
			}
		}
		got := map[string]bool{}
		ac, pre, suf := newAutomaton(lits), newTrie(lits, false), newTrie(lits, true)
		if at, cur := ac.scanFold(text, func(i int) { got["c"+lits[i]] = true }); at < len(text) {
			ac.scanFrom(cur, low[at:], func(i int) { got["c"+lits[i]] = true })
		}
		if !pre.walkFold(text, false, func(i int) { got["p"+lits[i]] = true }) {
			pre.walkPrefix(low, func(i int) { got["p"+lits[i]] = true })
		}
		if !suf.walkFold(text, true, func(i int) { got["s"+lits[i]] = true }) {
			suf.walkSuffix(low, func(i int) { got["s"+lits[i]] = true })
		}
		if len(got) != len(want) {
			t.Errorf("%q: found %v, want %v", text, got, want)
		}
		walkFind(t, lits, text)
		for k := range want {
			if !got[k] {
				t.Errorf("%q: missed %s", text, k)
			}
		}
	}
}

// TestAutomatonWideRows builds an automaton whose breadth-first levels
// outgrow 16 bits (all 74,088 three-letter words over 42 bytes): the
// complete rows stop short of the states their entries could not name,
// and the scan still finds what strings.Contains finds.
func TestAutomatonWideRows(t *testing.T) {
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789-_./\\:"
	var lits []string
	for _, x := range alpha {
		for _, y := range alpha {
			for _, z := range alpha {
				lits = append(lits, string([]rune{x, y, z}))
			}
		}
	}
	defer func(n int) { maxDFAStates = n }(maxDFAStates)
	maxDFAStates = 1 << 20
	a := newAutomaton(lits)
	if a.ndfa >= int32(len(a.states)) || a.ndfa < 1+int32(len(alpha)) {
		t.Fatalf("%d complete rows of %d states, want the root's and its children's at least, not all", a.ndfa, len(a.states))
	}
	for _, text := range []string{`c:\windows\system32\cmd.exe /c whoami`, "a-b_c", "zz9", "ab"} {
		seen := map[int]bool{}
		a.scan(text, func(i int) { seen[i] = true })
		var got []int
		for i := range lits {
			if seen[i] {
				got = append(got, i)
			}
		}
		if want := naiveFind(lits, text); !slices.Equal(got, want) {
			t.Errorf("%q: found %d literals, want %d", text, len(got), len(want))
		}
	}
}
