package detect

import (
	"strings"
	"testing"
)

// sieveLits are keyword-like literals of eight runes or more, one with
// runes outside ASCII, whose pairs a sieve must account for.
var sieveLits = []string{"mimikatz", "sekurlsa::", "kerberos::ptt", "dumpcreds", "đà nẵng đi"}

// TestPairSieve: the sieve passes every value whose lower case holds a
// literal and rules out values with no run of the literals' pairs long
// enough for the shortest.
func TestPairSieve(t *testing.T) {
	p := newPairSieve(sieveLits)
	if p == nil {
		t.Fatal("no sieve for eight-byte literals")
	}
	for _, c := range []struct {
		text string
		want bool // excluded
	}{
		{"Microsoft-Windows-Sysmon/Operational", true},
		{"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", true},
		{"", true}, {"mimikat", true}, {"MIMIKATZ", false}, {"x mimikatz", false},
		{"run SekurLSA::logonpasswords", false}, {"kerberos::pt", false}, // a run of pairs, though no literal
		{"dumpcred dumpcreds", false}, {"mimi katz mimik atz", true},
		{"Đà Nẵng đi", false}, {"ĐÀ NẴNG ĐI", false}, // lowers to a literal outside ASCII
		{"mimİkatz", false}, {"MIMI\u212aATZ", false}, // the Kelvin sign lowers to k
		{"Đà", true}, {"ĐàĐàĐà ĐàĐàĐàĐà", false}, // too short; a run of pairs outside ASCII
		{"5770385F-C22A-43E0 Đà", true},
		{"abcdefghijklmnopqrstuvwxyzmimikatz", false}, {"mimikatzabcdefghijklmnopqrstuvwxyz", false},
	} {
		if got := p.excludes(c.text); got != c.want {
			t.Errorf("excludes(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	for _, lits := range [][]string{
		{"ab", "mimikatz"},                 // a pair alone tells nothing
		{"abcdefgh", "c:\\windows\\", "x"}, // a literal of one byte
		{"mimikatz", "đàđ"},                // three runes, two pairs
		nil,
	} {
		if p := newPairSieve(lits); p != nil {
			t.Errorf("%q: a sieve with a run of %d", lits, p.run)
		}
	}
	if p := newPairSieve([]string{"đà nẵng đi"}); p == nil || !p.excludes("da nang di") || p.excludes("ĐÀ NẴNG ĐI") {
		t.Error("a literal outside ASCII: its ASCII pairs and its runes count")
	}
}

// FuzzPairSieve: a value the sieve rules out holds, lowered, none of the
// literals, whatever the literals and the value.
func FuzzPairSieve(f *testing.F) {
	f.Add("mimikatz", "sekurlsa::", "x mimikatz y")
	f.Add("abcd", "bcde", "abcbcdebcd")
	f.Add("aaaa", "abab", "aaabababaaa")
	f.Add("kelvin", "sekurlsa", "\u212aELVIN")
	f.Add("iİiİi", "ⱥⱥⱥⱥ", "İİİİ ȺȺȺȺ")
	f.Fuzz(func(t *testing.T, a, b, text string) {
		lits := []string{strings.ToLower(a), strings.ToLower(b)}
		p := newPairSieve(lits)
		if p == nil || !p.excludes(text) {
			return
		}
		low := strings.ToLower(text)
		for _, lit := range lits {
			if strings.Contains(low, lit) {
				t.Fatalf("sieve of %q ruled out %q, whose lower case holds %q", lits, text, lit)
			}
		}
	})
}
