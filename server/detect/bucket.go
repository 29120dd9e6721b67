package detect

import (
	"math/bits"
	"sort"
)

// bucket is the rules one event may meet (those of its dataset, or of its
// dataset and key value) with their prefilter.
type bucket struct {
	rules  []compiled // in load order
	always []int      // rules with no prefilter
	fields []fieldScan
	// anyField scans every field not in fields for the literals of
	// keyword searches; those in fields have them in their own matchers.
	anyField *fieldScan
	// table finds fields by name (for a bucket with an anyField), and
	// specials are the fields event.Event.Get does not read from Fields.
	table    fieldTable
	specials []int32
	// checks[checkAt[i]:checkAt[i+1]] are rule i's clauses beyond its
	// trigger, each a count n then n literal IDs one of which must have
	// been found: one flat array, so that testing a marked rule reads
	// memory in one place rather than chasing a slice per clause.
	checks  []int32
	checkAt []int32
}

// fieldScan finds the literals of one event field: an automaton for those
// a value must contain, tries for prefixes and suffixes, a map for whole
// values. hits[i] lists the rules that literal i triggers and gid[i] is
// its bucket-wide ID.
type fieldScan struct {
	field string
	fid   int32      // the engine's ID of field
	ac    *automaton // nil when no literal is a "contains"
	// sieve, when set, rules out before the scan by ac a value that
	// holds none of its literals.
	sieve *pairSieve
	pre   *automaton
	suf   *automaton
	exact map[string][]int32
	// exactLen[n] says whether an exact literal is n bytes long (for n
	// below its length; longer values are always looked up): lowering
	// can change a non-ASCII value's length, so only ASCII lengths count.
	exactLen []bool
	// lits holds, by literal, what finding it sets; a scan reads one
	// literal's in one place, as a value's hits are scattered over the
	// field's literals and each read of a separate array cost a miss of
	// the caches.
	lits []litHit
	// hits[l.lo:l.hi] are the rules a literal l of more than one rule
	// triggers.
	hits []int32
	// minLen is the length of the shortest literal: a shorter ASCII value
	// holds none of them.
	minLen int
}

// litHit is what finding one literal of a field sets: its engine-wide
// ID, found, and the rules it triggers, marked candidates: rule when it
// is one (most are), else hits[lo:hi] of the field (rule is -1).
type litHit struct {
	gid, rule int32
	lo, hi    int32
}

type litKey struct {
	field, lit string
	kind       reqKind
}

// newBucket builds the prefilter of rules. litID gives each literal its
// engine-wide ID, by which the scan records what it found; a pattern of a
// rule whose literal the rule's prefilter scans for is given that ID too
// (see fieldNode.split), so that evaluating the rule reads what the scan
// found instead of testing the pattern again.
func newBucket(rules []compiled, litID func(litKey) int32) *bucket {
	b := &bucket{rules: rules, checkAt: make([]int32, 1, len(rules)+1)}
	ids := map[litKey]int32{} // the bucket's literals
	id := func(r req) int32 {
		k := litKey{r.field, r.lit, r.kind}
		if i, ok := ids[k]; ok {
			return i
		}
		ids[k] = litID(k)
		return ids[k]
	}
	trigger := map[litKey][]int{}
	for i, c := range rules {
		cs, ok := clauses(c.cond)
		if !ok {
			b.always = append(b.always, i)
			b.checkAt = append(b.checkAt, int32(len(b.checks)))
			continue
		}
		best := 0
		for j := range cs {
			if better(cs[j], cs[best]) {
				best = j
			}
		}
		seen := map[litKey]bool{}
		for _, r := range cs[best] {
			k := litKey{r.field, r.lit, r.kind}
			id(r)
			if !seen[k] {
				seen[k] = true
				trigger[k] = append(trigger[k], i)
			}
		}
		for j, cl := range cs {
			if j == best {
				continue
			}
			b.checks = append(b.checks, int32(len(cl)))
			for _, r := range cl {
				b.checks = append(b.checks, id(r))
			}
		}
		b.checkAt = append(b.checkAt, int32(len(b.checks)))
		trust(c.cond, cs, ids)
	}
	perField := map[string][]litKey{}
	for k := range ids {
		perField[k.field] = append(perField[k.field], k)
	}
	names := make([]string, 0, len(perField))
	for f := range perField {
		names = append(names, f)
	}
	sort.Strings(names)
	// Keyword literals join every named field's matchers, so that a field
	// is scanned once; the any-field scan then covers only the others.
	keywords := perField[""]
	for _, f := range names {
		keys := perField[f]
		if f != "" {
			keys = append(keys, keywords...)
		}
		sort.Slice(keys, func(i, j int) bool {
			return keys[i].lit < keys[j].lit || keys[i].lit == keys[j].lit && keys[i].kind < keys[j].kind
		})
		fs := newFieldScan(f, keys, trigger, ids)
		if f == "" {
			b.anyField = fs
			continue
		}
		if special(f) {
			b.specials = append(b.specials, int32(len(b.fields)))
		}
		b.fields = append(b.fields, *fs)
	}
	if b.anyField != nil {
		b.table = newFieldTable(names[1:]) // names[0] is "", the keywords'
	}
	return b
}

// isASCII tells whether s is all ASCII, eight bytes a step.
func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		if (uint64(w[0])|uint64(w[1])<<8|uint64(w[2])<<16|uint64(w[3])<<24|
			uint64(w[4])<<32|uint64(w[5])<<40|uint64(w[6])<<48|uint64(w[7])<<56)&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// newFieldScan builds the matchers of one field's literals (sorted keys).
func newFieldScan(f string, keys []litKey, trigger map[litKey][]int, ids map[litKey]int32) *fieldScan {
	fs := &fieldScan{field: f, minLen: len(keys[0].lit), lits: make([]litHit, 0, len(keys))}
	// Each matcher numbers its own literals; idx maps them to the field's.
	var byKind [4][]string
	var idx [4][]int32
	for i, k := range keys {
		fs.minLen = min(fs.minLen, len(k.lit))
		l := litHit{gid: ids[k], rule: -1}
		if rs := trigger[k]; len(rs) == 1 {
			l.rule = int32(rs[0])
		} else {
			l.lo = int32(len(fs.hits))
			for _, r := range rs {
				fs.hits = append(fs.hits, int32(r))
			}
			l.hi = int32(len(fs.hits))
		}
		fs.lits = append(fs.lits, l)
		kind := k.kind
		if k.field == "" {
			kind = reqContains // a keyword may be anywhere in any field
		}
		byKind[kind] = append(byKind[kind], k.lit)
		idx[kind] = append(idx[kind], int32(i))
	}
	remap := func(a *automaton, ix []int32) *automaton {
		for i, o := range a.outs {
			a.outs[i] = ix[o]
		}
		return a
	}
	if len(byKind[reqContains]) > 0 {
		fs.ac = remap(newAutomaton(byKind[reqContains]), idx[reqContains])
		fs.sieve = newPairSieve(byKind[reqContains])
	}
	if len(byKind[reqPrefix]) > 0 {
		fs.pre = remap(newTrie(byKind[reqPrefix], false), idx[reqPrefix])
	}
	if len(byKind[reqSuffix]) > 0 {
		fs.suf = remap(newTrie(byKind[reqSuffix], true), idx[reqSuffix])
	}
	if len(byKind[reqExact]) > 0 {
		fs.exact = make(map[string][]int32, len(byKind[reqExact]))
		fs.exactLen = make([]bool, 256)
		for i, lit := range byKind[reqExact] {
			fs.exact[lit] = append(fs.exact[lit], idx[reqExact][i])
			if len(lit) < len(fs.exactLen) {
				fs.exactLen[len(lit)] = true
			}
		}
	}
	return fs
}

// candidates returns, in load order, the rules the event may match: those
// without a prefilter, and those whose trigger literal was found and whose
// other clauses each have a literal found. sc is scratch space; candidates
// leaves its marks cleared and found set for the literals it found (their
// IDs in sc.set), for the caller to clear once the rules are evaluated.
func (b *bucket) candidates(c *evalCtx, sc *scratch, found []bool, out []int) []int {
	mark := sc.marks(len(b.rules))
	for _, i := range b.always {
		mark[i>>6] |= 1 << (uint(i) & 63)
	}
	if b.anyField != nil {
		b.scanEvent(c, mark, found)
	} else {
		for fi := range b.fields {
			fs := &b.fields[fi]
			v, ok := c.get(fs.fid, fs.field)
			if !ok || v == nil {
				continue
			}
			b.scanValue(c, fs, fs.fid, fs.field, v, mark, found)
		}
	}
	for w, m := range mark {
		if m == 0 {
			continue // most words: a bucket's rules are many, its candidates few
		}
		mark[w] = 0
		for ; m != 0; m &= m - 1 {
			if i := w<<6 | bits.TrailingZeros64(m); b.passes(i, found) {
				out = append(out, i)
			}
		}
	}
	return out
}

// scanEvent scans every field of the event in one walk: a field some rule
// names with its own matchers (which hold the keywords too), any other
// long enough for a keyword with the keyword scan.
func (b *bucket) scanEvent(c *evalCtx, mark []uint64, found []bool) {
	for _, fi := range b.specials {
		fs := &b.fields[fi]
		if v, ok := c.get(fs.fid, fs.field); ok && v != nil {
			b.scanValue(c, fs, fs.fid, fs.field, v, mark, found)
		}
	}
	for k, v := range c.ev.Fields {
		if v == nil {
			continue
		}
		fi := b.table.find(k)
		if fi < 0 {
			if !short(v, b.anyField.minLen) {
				b.scanValue(c, b.anyField, 0, k, v, mark, found)
			}
			continue
		}
		fs := &b.fields[fi]
		if special(k) {
			continue // scanned above, with the value Get gives
		}
		c.put(fs.fid, v)
		b.scanValue(c, fs, fs.fid, fs.field, v, mark, found)
	}
}

// short reports whether the scalar v is written in fewer than n bytes,
// all ASCII, so that no literal of n bytes or more can be found in it,
// lowered or not. It is false for what it cannot tell cheaply.
func short(v any, n int) bool {
	switch x := v.(type) {
	case string:
		return len(x) < n && isASCII(x)
	case int64:
		w := 1 // the digits and sign strconv.FormatInt writes
		if x < 0 {
			w++
		}
		for ; x <= -10 || x >= 10; x /= 10 {
			w++
		}
		return w < n
	}
	return false
}

func (b *bucket) passes(rule int, found []bool) bool {
	cs := b.checks[b.checkAt[rule]:b.checkAt[rule+1]]
	for len(cs) > 0 {
		n := int(cs[0])
		cl := cs[1 : 1+n]
		cs = cs[1+n:]
		ok := false
		for _, g := range cl {
			if found[g] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (b *bucket) scanValue(c *evalCtx, fs *fieldScan, id int32, key string, v any, mark []uint64, found []bool) {
	if list, ok := v.([]any); ok {
		for _, el := range list {
			b.scanValue(c, fs, 0, "", el, mark, found)
		}
		return
	}
	s, ok := scalarString(v)
	if !ok {
		return
	}
	sc := c.sc
	hit := func(lit int) {
		l := &fs.lits[lit]
		if g := l.gid; !found[g] {
			found[g] = true
			sc.set = append(sc.set, g)
		}
		if r := l.rule; r >= 0 {
			mark[r>>6] |= 1 << (uint32(r) & 63)
			return
		}
		for _, r := range fs.hits[l.lo:l.hi] {
			mark[r>>6] |= 1 << (uint32(r) & 63)
		}
	}
	// Most values are ASCII: scan them folding case on the fly rather than
	// lowering (and caching) every field of every event.
	if fs.ac != nil && (fs.sieve == nil || !fs.sieve.excludes(s)) {
		if at, cur := fs.ac.scanFold(s, hit); at < len(s) {
			fs.ac.scanFrom(cur, c.lowerOf(id, key, s)[at:], hit)
		}
	}
	if fs.pre != nil && !fs.pre.walkFold(s, false, hit) {
		fs.pre.walkPrefix(c.lowerOf(id, key, s), hit)
	}
	if fs.suf != nil && !fs.suf.walkFold(s, true, hit) {
		fs.suf.walkSuffix(c.lowerOf(id, key, s), hit)
	}
	if fs.exact != nil && (len(s) >= len(fs.exactLen) || fs.exactLen[len(s)] || !isASCII(s)) {
		for _, lit := range fs.exact[c.lowerOf(id, key, s)] {
			hit(int(lit))
		}
	}
}
