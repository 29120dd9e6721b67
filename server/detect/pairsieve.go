package detect

import "unicode/utf8"

// pairSieve rules out, before a scan, a value whose lower case holds none
// of a field's "contains" literals. A literal of n runes found in the
// lower case of a text comes from a span of at least n bytes of the text
// (strings.ToLower maps rune to rune, and no rune is shorter than a byte),
// in which every pair of neighbouring ASCII bytes is, lowered, a pair of
// neighbouring ASCII bytes of the literal. So a text without a run of n-1
// consecutive pairs that are either such a pair or touch a byte outside
// ASCII holds no literal. Many fields a Sysmon rule names (Company,
// FileVersion) and every field the keyword search alone looks at
// (Channel, the GUIDs, the times) are tested for a few dozen literals of
// eight bytes or more whose pairs are rare in those values, so the sieve
// looks at one pair in every seven or so instead of scanning each byte
// through the automaton.
type pairSieve struct {
	// run is the fewest pairs a literal's span makes: one fewer than the
	// runes of the shortest literal.
	run int
	// pairs has bit a<<7|b set for each pair of neighbouring ASCII bytes
	// a, b of some literal.
	pairs [128 * 128 / 64]uint64
}

// A sieve is built when the shortest literal makes at least minSieveRun
// pairs and the literals hold at most maxSievePairs pairs of the 16,384:
// shorter literals or more pairs let most values through, and the sieve
// would only add its cost to the scan.
const (
	minSieveRun   = 3
	maxSievePairs = 512
)

// newPairSieve returns the sieve of lits (lower case), or nil when it
// would not pay.
func newPairSieve(lits []string) *pairSieve {
	if len(lits) == 0 {
		return nil
	}
	p := &pairSieve{run: 1 << 30}
	n := 0
	for _, lit := range lits {
		p.run = min(p.run, utf8.RuneCountInString(lit)-1)
		for i := 0; i+1 < len(lit); i++ {
			if a, b := lit[i], lit[i+1]; a < 0x80 && b < 0x80 && !p.has(a, b) {
				j := int(a)<<7 | int(b)
				p.pairs[j>>6] |= 1 << (j & 63)
				n++
			}
		}
	}
	if p.run < minSieveRun || n > maxSievePairs {
		return nil
	}
	return p
}

// has tells whether the pair a, b may lie in a literal's span: a pair of
// ASCII bytes that, lowered, a literal holds, or one touching a byte
// outside ASCII (whose rune may lower to anything).
func (p *pairSieve) has(a, b byte) bool {
	if a|b >= 0x80 {
		return true
	}
	j := int(foldASCII[a])<<7 | int(foldASCII[b])
	return p.pairs[j>>6]&(1<<(j&63)) != 0
}

// excludes reports whether the lower case of text holds none of the
// literals.
func (p *pairSieve) excludes(text string) bool {
	// Pairs are numbered by their first byte, 0 to len(text)-2. The
	// window of run pairs ending at end is the next that may hold a
	// literal's span; every window ending before it has a pair no span
	// holds.
	r := p.run
	for end := r - 1; end+1 < len(text); {
		if !p.has(text[end], text[end+1]) {
			end += r // every window holding this pair is out
			continue
		}
		q := end - 1
		for lo := end - r + 1; q >= lo && p.has(text[q], text[q+1]); q-- {
		}
		if q < end-r+1 {
			return false // run pairs in a row: a literal may be there
		}
		end = q + r
	}
	return true
}
