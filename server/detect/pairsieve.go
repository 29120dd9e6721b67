package detect

// pairSieve rules out, before a scan, an ASCII value whose lower case
// holds none of a field's "contains" literals. A literal of n bytes found
// in a text puts n-1 consecutive byte pairs of the text, lowered, among the
// pairs the literals hold; a value without such a run of pairs holds no
// literal. Many fields a Sysmon rule names (Company, FileVersion) and every
// field the keyword search alone looks at (Channel, the GUIDs, the times)
// are tested for a few dozen literals of eight bytes or more whose pairs
// are rare in those values, so the sieve looks at one pair in every
// seven or so instead of scanning each byte through the automaton.
type pairSieve struct {
	// run is the pairs the shortest ASCII literal makes: one fewer than
	// its length.
	run int
	// pairs has bit a<<7|b set for each pair of ASCII bytes a, b that
	// some ASCII literal holds.
	pairs [128 * 128 / 64]uint64
}

// A sieve is built when the shortest ASCII literal makes at least
// minSieveRun pairs and the literals hold at most maxSievePairs pairs of
// the 16,384: shorter literals or more pairs let most values through, and
// the sieve would only add its cost to the scan.
const (
	minSieveRun   = 3
	maxSievePairs = 512
)

// newPairSieve returns the sieve of lits (lower case), or nil when it
// would not pay. A literal with a byte outside ASCII never occurs in the
// lower case of an ASCII text, so it adds no pairs.
func newPairSieve(lits []string) *pairSieve {
	p := &pairSieve{run: 1 << 30} // no ASCII literal: no ASCII value holds one
	n := 0
	for _, lit := range lits {
		if !isASCII(lit) {
			continue
		}
		p.run = min(p.run, len(lit)-1)
		for i := 0; i+1 < len(lit); i++ {
			if !p.has(lit[i], lit[i+1]) {
				j := int(lit[i])<<7 | int(lit[i+1])
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

// has tells whether the pair of ASCII bytes a, b, lowered, is a literal's.
func (p *pairSieve) has(a, b byte) bool {
	j := int(foldASCII[a])<<7 | int(foldASCII[b])
	return p.pairs[j>>6]&(1<<(j&63)) != 0
}

// excludes reports whether the lower case of text holds none of the
// literals. It is false for text outside ASCII, whose lower case may
// differ from it in length and bytes.
func (p *pairSieve) excludes(text string) bool {
	if !isASCII(text) {
		return false
	}
	// Pairs are numbered by their first byte, 0 to len(text)-2. The
	// window of run pairs ending at end is the next that may hold a
	// literal; every window ending before it has a pair no literal holds.
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
