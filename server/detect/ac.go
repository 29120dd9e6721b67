package detect

// automaton is an Aho-Corasick matcher over bytes: it finds every one of a
// set of literals in a text in one pass. Transitions are sparse (sorted
// edge ranges in one array) because literals share little beyond their
// first bytes and a dense table for thousands of states would cost
// megabytes per field; every state, edge and output lives in one of three
// flat arrays so that a scan chases no pointers.
//
// The same structure without failure links is a plain trie, which
// walkPrefix and walkSuffix use to find the literals a value starts or
// ends with.
type automaton struct {
	states []acState
	edges  []acEdge
	// outs[outAt[s]:outAt[s+1]] are the literals that end at state s,
	// including (for an automaton) those ending at states on its fail
	// chain, so that scanning never walks the chain. They are kept apart
	// from the states, in four bytes a state, because the scan reads
	// them only where a literal ends: the states' array of a large
	// automaton does not fit the caches, and this one mostly does.
	outs  []int32
	outAt []int32
	// rows are dense transition tables (-1: no edge) for the states with
	// the most edges, where a binary search would cost the most.
	rows []int32
	// root is the root's transitions as a table: most bytes of a text
	// leave or stay at the root, so this is the hot path.
	root [256]int32

	// An automaton's shallowest states are numbered breadth first (see
	// renumber), and the first ndfa of them (where a scan spends most
	// bytes: most bytes of a text begin some literal or continue one
	// briefly) have complete rows in dfa, ncls entries of 16 bits each: a
	// byte with no edge leads where the fail chain would, so a scan there
	// takes one lookup and never walks the chain. cls maps a byte to its column; bytes no
	// literal holds share column 0. hasOut marks the states where a
	// literal ends, so a scan need not read a state to know.
	ndfa   int32
	ncls   int
	cls    [256]uint16
	fcls   [128]uint16 // cls of the lower case of an ASCII byte
	dfa    []uint16
	hasOut []uint64
	// idle marks the ASCII bytes whose lower case has no edge from the
	// root: a scan at the root passes over a run of them without a
	// transition each, as most bytes of a value begin no literal.
	idle [256]bool
}

// An entry of a complete row names a state below maxRowState; outFlag,
// its top bit, says that literals end at that state, so that a step
// through a row needs no second read to know.
const (
	maxRowState = 1 << 15
	outFlag     = 1 << 15
)

// maxDFAStates bounds the states with complete rows in one automaton
// (at most 2 bytes times the literals' distinct bytes each: about 300 KiB
// for the largest of SigmaHQ's).
var maxDFAStates = 1024

type acState struct {
	lo, hi int32 // edges[lo:hi], sorted by byte
	row    int32 // rows[row*256:][:256] when ≥ 0: the edges as a table
	fail   int32
	// A state with at most one edge (most past the shallowest: a scan
	// there follows one literal's chain) holds it here, edge (byte b1 to
	// to1, or none: to1 -1), so that a step reads the state alone.
	small bool
	b1    byte
	to1   int32
}

type acEdge struct {
	b  byte
	to int32
}

func (a *automaton) child(s int32, b byte) int32 {
	st := &a.states[s]
	if st.small {
		if st.b1 == b {
			return st.to1
		}
		return -1
	}
	if r := st.row; r >= 0 {
		return a.rows[int(r)<<8|int(b)]
	}
	e := a.edges[st.lo:st.hi]
	lo, hi := 0, len(e)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch {
		case e[m].b == b:
			return e[m].to
		case e[m].b < b:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1
}

// builder is the growable form of an automaton.
type builder struct {
	next [][]acEdge
	out  [][]int32
	fail []int32
}

func (t *builder) child(s int32, b byte) int32 {
	for _, e := range t.next[s] {
		if e.b == b {
			return e.to
		}
	}
	return -1
}

func newTrieBuilder(lits []string, reverse bool) *builder {
	t := &builder{next: [][]acEdge{nil}, out: [][]int32{nil}, fail: []int32{0}}
	for id, lit := range lits {
		cur := int32(0)
		for i := 0; i < len(lit); i++ {
			c := lit[i]
			if reverse {
				c = lit[len(lit)-1-i]
			}
			nx := t.child(cur, c)
			if nx < 0 {
				nx = int32(len(t.next))
				t.next = append(t.next, nil)
				t.out = append(t.out, nil)
				t.fail = append(t.fail, 0)
				t.insertEdge(cur, c, nx)
			}
			cur = nx
		}
		t.out[cur] = append(t.out[cur], int32(id))
	}
	return t
}

func (t *builder) insertEdge(from int32, b byte, to int32) {
	s := t.next[from]
	i := 0
	for i < len(s) && s[i].b < b {
		i++
	}
	s = append(s, acEdge{})
	copy(s[i+1:], s[i:])
	s[i] = acEdge{b: b, to: to}
	t.next[from] = s
}

// newAutomaton builds the Aho-Corasick automaton of lits.
func newAutomaton(lits []string) *automaton {
	t := newTrieBuilder(lits, false)
	t.link()
	nb, ndfa := t.renumber()
	a := nb.flatten()
	a.buildDFA(ndfa, false)
	return a
}

// renumber numbers the states for a scan and says how many of them get
// complete rows (ndfa, at most maxDFAStates): breadth first up to the
// children of those, so that a state's fail target, which is shallower,
// comes before it and every entry of a complete row fits in 16 bits; the
// rest depth first: past the complete rows a scan mostly follows one
// literal's chain of single-edge states, which then lie next to each other
// in memory instead of one breadth-first level (thousands of states) apart.
func (t *builder) renumber() (nb *builder, ndfa int) {
	n := len(t.next)
	bfs := make([]int32, 1, n)
	for i := 0; i < len(bfs); i++ {
		for _, e := range t.next[bfs[i]] {
			bfs = append(bfs, e.to)
		}
	}
	// A state's children come after those of the states before it, so the
	// first ndfa states' rows lead only to the first reach states.
	reach := 1
	for ndfa < min(n, max(maxDFAStates, 1)) {
		e := len(t.next[bfs[ndfa]])
		if reach+e > maxRowState {
			break
		}
		reach += e
		ndfa++
	}
	order := bfs[:reach:reach] // new number → old
	id := make([]int32, n)     // old number → new; 0 for none but the root
	for s, old := range order {
		id[old] = int32(s)
	}
	// The breadth-first states are closed upwards (a state's parent was
	// numbered before it), so a depth-first walk from the root meets every
	// other state below one of them.
	stack := []int32{0}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s != 0 && id[s] == 0 {
			id[s] = int32(len(order))
			order = append(order, s)
		}
		es := t.next[s]
		for i := len(es) - 1; i >= 0; i-- {
			stack = append(stack, es[i].to)
		}
	}
	nb = &builder{next: make([][]acEdge, n), out: make([][]int32, n), fail: make([]int32, n)}
	for s, old := range order {
		es := make([]acEdge, len(t.next[old]))
		for i, e := range t.next[old] {
			es[i] = acEdge{b: e.b, to: id[e.to]}
		}
		nb.next[s], nb.out[s], nb.fail[s] = es, t.out[old], id[t.fail[old]]
	}
	return nb, ndfa
}

// buildDFA makes the complete rows of the first ndfa states (see
// automaton), which must be numbered breadth first, and the output marks.
// A trie's rows hold its edges alone: a byte with no edge leads to 0,
// which no edge of a trie leads to, so 0 there means the walk is over.
func (a *automaton) buildDFA(ndfa int, trie bool) {
	var used [256]bool
	for _, e := range a.edges {
		used[e.b] = true
	}
	a.ncls = 1
	for b := range a.cls {
		if used[b] {
			a.cls[b] = uint16(a.ncls)
			a.ncls++
		}
	}
	for b := range a.fcls {
		a.fcls[b] = a.cls[foldASCII[b]]
	}
	a.ndfa = int32(ndfa)
	a.dfa = make([]uint16, int(a.ndfa)*a.ncls)
	for b := range a.root {
		a.dfa[a.cls[b]] = uint16(a.root[b])
	}
	for s := 1; s < int(a.ndfa); s++ {
		f := int(a.states[s].fail) // f < s: it is shallower
		row := a.dfa[s*a.ncls : (s+1)*a.ncls]
		if !trie {
			copy(row, a.dfa[f*a.ncls:(f+1)*a.ncls])
		}
		for _, e := range a.edges[a.states[s].lo:a.states[s].hi] {
			row[a.cls[e.b]] = uint16(e.to)
		}
	}
	for b := 0; b < 0x80; b++ {
		a.idle[b] = a.root[foldASCII[b]] == 0
	}
	a.hasOut = make([]uint64, (len(a.states)+63)/64)
	for s := range a.states {
		if a.outAt[s+1] > a.outAt[s] {
			a.hasOut[s>>6] |= 1 << (uint(s) & 63)
		}
	}
	for i, e := range a.dfa {
		if (e != 0 || !trie) && a.outAt[e+1] > a.outAt[e] { // a trie's 0 ends a walk
			a.dfa[i] = e | outFlag
		}
	}
}

// next moves an automaton from state cur on byte b.
func (a *automaton) next(cur int32, b byte) int32 {
	for cur >= a.ndfa {
		if nx := a.child(cur, b); nx >= 0 {
			return nx
		}
		cur = a.states[cur].fail
	}
	return int32(a.dfa[int(cur)*a.ncls+int(a.cls[b])] &^ outFlag)
}

// emit reports the literals that end at state s.
func (a *automaton) emit(s int32, hit func(lit int)) {
	for _, id := range a.outs[a.outAt[s]:a.outAt[s+1]] {
		hit(int(id))
	}
}

// newTrie builds a trie of lits, or of their reversals, its shallowest
// states with complete rows as an automaton's (see buildDFA).
func newTrie(lits []string, reverse bool) *automaton {
	nb, ndfa := newTrieBuilder(lits, reverse).renumber()
	a := nb.flatten()
	a.buildDFA(ndfa, true)
	return a
}

// link sets fail links breadth first, so that a state's fail target is
// complete before the state's children need it.
func (t *builder) link() {
	queue := make([]int32, 0, len(t.next))
	queue = append(queue, 0)
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, e := range t.next[s] {
			if s != 0 {
				f := t.fail[s]
				for {
					if nx := t.child(f, e.b); nx >= 0 {
						t.fail[e.to] = nx
						break
					}
					if f == 0 {
						break
					}
					f = t.fail[f]
				}
				if fo := t.out[t.fail[e.to]]; len(fo) > 0 {
					t.out[e.to] = append(append([]int32(nil), t.out[e.to]...), fo...)
				}
			}
			queue = append(queue, e.to)
		}
	}
}

func (t *builder) flatten() *automaton {
	a := &automaton{states: make([]acState, len(t.next)), outAt: make([]int32, len(t.next)+1)}
	for s := range t.next {
		st := &a.states[s]
		st.row = -1
		st.lo = int32(len(a.edges))
		a.edges = append(a.edges, t.next[s]...)
		st.hi = int32(len(a.edges))
		st.fail = t.fail[s]
		a.outs = append(a.outs, t.out[s]...)
		a.outAt[s+1] = int32(len(a.outs))
		switch es := t.next[s]; len(es) {
		case 0:
			st.small, st.to1 = true, -1
		case 1:
			st.small, st.b1, st.to1 = true, es[0].b, es[0].to
		}
	}
	for b := 0; b < 256; b++ {
		a.root[b] = max(a.child(0, byte(b)), 0)
	}
	a.addRows()
	return a
}

// Dense rows go to states with at least rowMinEdges edges, at most
// maxRows of them (1 KiB each) per automaton.
const (
	rowMinEdges = 4
	maxRows     = 512
)

func (a *automaton) addRows() {
	for s := range a.states {
		st := &a.states[s]
		if st.hi-st.lo < rowMinEdges || len(a.rows) >= maxRows<<8 {
			continue
		}
		base := len(a.rows)
		a.rows = append(a.rows, make([]int32, 256)...)
		for i := base; i < base+256; i++ {
			a.rows[i] = -1
		}
		for _, e := range a.edges[st.lo:st.hi] {
			a.rows[base+int(e.b)] = e.to
		}
		st.row = int32(base >> 8)
	}
}

// scan calls hit for each literal found in text, once per occurrence.
func (a *automaton) scan(text string, hit func(lit int)) { a.scanFrom(0, text, hit) }

// scanFrom is scan from state cur, where a scan of the text before text
// left off.
func (a *automaton) scanFrom(cur int32, text string, hit func(lit int)) {
	dfa, ncls, ndfa, hasOut := a.dfa, a.ncls, a.ndfa, a.hasOut
	for i := 0; i < len(text); i++ {
		b := text[i]
		if cur < ndfa {
			e := dfa[int(cur)*ncls+int(a.cls[b])]
			if cur = int32(e &^ outFlag); e&outFlag != 0 {
				a.emit(cur, hit)
			}
		} else if cur = a.next(cur, b); hasOut[cur>>6]&(1<<(uint(cur)&63)) != 0 {
			a.emit(cur, hit)
		}
	}
}

// foldASCII lower-cases ASCII letters; scanFold and the fold walks use it
// to match lower-case literals against a value that was never lowered.
var foldASCII = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i + 'a' - 'A')
		}
	}
	return t
}()

// scanFold is scan over the lower case of text, folding ASCII letters on
// the fly. At the first byte outside ASCII, where Unicode lower-casing may
// change the text's bytes, it stops and returns that byte's index and the
// state it reached; it returns len(text) when it scanned all of it. The
// bytes before are ASCII, so the lower case of text begins with their
// lower case, as long: the caller goes on with scanFrom over the properly
// lowered text from that index, instead of scanning it all again.
func (a *automaton) scanFold(text string, hit func(lit int)) (at int, state int32) {
	cur := int32(0)
	dfa, ncls, ndfa, hasOut, idle := a.dfa, a.ncls, a.ndfa, a.hasOut, &a.idle
	for i := 0; i < len(text); i++ {
		if cur == 0 {
			for idle[text[i]] {
				if i++; i == len(text) {
					return i, 0
				}
			}
		}
		b := text[i]
		if b >= 0x80 {
			return i, cur
		}
		if cur < ndfa {
			e := dfa[int(cur)*ncls+int(a.fcls[b])]
			if cur = int32(e &^ outFlag); e&outFlag != 0 {
				a.emit(cur, hit)
			}
		} else if cur = a.next(cur, foldASCII[b]); hasOut[cur>>6]&(1<<(uint(cur)&63)) != 0 {
			a.emit(cur, hit)
		}
	}
	return len(text), cur
}

// walkFold is walkPrefix (or, with reverse, walkSuffix) over the lower
// case of an ASCII text; like scanFold it returns false at a byte outside
// ASCII.
func (a *automaton) walkFold(text string, reverse bool, hit func(lit int)) bool {
	cur := int32(0)
	for j := 0; j < len(text); j++ {
		i := j
		if reverse {
			i = len(text) - 1 - j
		}
		b := text[i]
		if b >= 0x80 {
			return false
		}
		if cur < a.ndfa {
			e := a.dfa[int(cur)*a.ncls+int(a.fcls[b])]
			if e == 0 {
				return true
			}
			if cur = int32(e &^ outFlag); e&outFlag != 0 {
				a.emit(cur, hit)
			}
		} else if cur = a.child(cur, foldASCII[b]); cur < 0 {
			return true
		} else if a.hasOut[cur>>6]&(1<<(uint(cur)&63)) != 0 {
			a.emit(cur, hit)
		}
	}
	return true
}

// walkPrefix calls hit for each literal of a trie that text starts with.
func (a *automaton) walkPrefix(text string, hit func(lit int)) {
	cur := int32(0)
	for i := 0; i < len(text); i++ {
		if cur = a.child(cur, text[i]); cur < 0 {
			return
		}
		a.emit(cur, hit)
	}
}

// walkSuffix calls hit for each literal of a reversed trie that text ends
// with.
func (a *automaton) walkSuffix(text string, hit func(lit int)) {
	cur := int32(0)
	for i := len(text) - 1; i >= 0; i-- {
		if cur = a.child(cur, text[i]); cur < 0 {
			return
		}
		a.emit(cur, hit)
	}
}
