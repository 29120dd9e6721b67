package detect

// automaton is an Aho-Corasick matcher over bytes: it finds every one of a
// set of literals in a text in one pass. Transitions are sparse (sorted
// edge lists) because literals share little beyond their first bytes and a
// dense table for thousands of states would cost megabytes per field.
type automaton struct {
	states []acState
	// root is the root's transitions as a table: most bytes of a text
	// leave or stay at the root, so this is the hot path.
	root [256]int32
}

type acState struct {
	next []acEdge // sorted by byte
	fail int32
	// out lists the literals that end here, including those ending at
	// states on the fail chain, so that scanning never walks the chain.
	out []int32
}

type acEdge struct {
	b  byte
	to int32
}

func (s *acState) child(b byte) int32 {
	lo, hi := 0, len(s.next)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case s.next[m].b == b:
			return s.next[m].to
		case s.next[m].b < b:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1
}

func newAutomaton(lits []string) *automaton {
	a := &automaton{states: []acState{{}}}
	for id, lit := range lits {
		cur := int32(0)
		for i := 0; i < len(lit); i++ {
			nx := a.states[cur].child(lit[i])
			if nx < 0 {
				nx = int32(len(a.states))
				a.states = append(a.states, acState{})
				a.insertEdge(cur, lit[i], nx)
			}
			cur = nx
		}
		a.states[cur].out = append(a.states[cur].out, int32(id))
	}
	a.link()
	for b := 0; b < 256; b++ {
		a.root[b] = max(a.states[0].child(byte(b)), 0)
	}
	return a
}

func (a *automaton) insertEdge(from int32, b byte, to int32) {
	s := &a.states[from]
	i := 0
	for i < len(s.next) && s.next[i].b < b {
		i++
	}
	s.next = append(s.next, acEdge{})
	copy(s.next[i+1:], s.next[i:])
	s.next[i] = acEdge{b: b, to: to}
}

// link sets fail links breadth first, so that a state's fail target is
// complete before the state's children need it.
func (a *automaton) link() {
	queue := make([]int32, 0, len(a.states))
	for _, e := range a.states[0].next {
		a.states[e.to].fail = 0
		queue = append(queue, e.to)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, e := range a.states[s].next {
			f := a.states[s].fail
			for {
				if nx := a.states[f].child(e.b); nx >= 0 {
					a.states[e.to].fail = nx
					break
				}
				if f == 0 {
					a.states[e.to].fail = 0
					break
				}
				f = a.states[f].fail
			}
			fo := a.states[a.states[e.to].fail].out
			if len(fo) > 0 {
				a.states[e.to].out = append(append([]int32(nil), a.states[e.to].out...), fo...)
			}
			queue = append(queue, e.to)
		}
	}
}

// scan calls hit for each literal found in text, once per occurrence.
func (a *automaton) scan(text string, hit func(lit int)) {
	cur := int32(0)
	for i := 0; i < len(text); i++ {
		b := text[i]
		if cur == 0 {
			cur = a.root[b]
			for _, id := range a.states[cur].out {
				hit(int(id))
			}
			continue
		}
		for {
			if nx := a.states[cur].child(b); nx >= 0 {
				cur = nx
				break
			}
			if cur == 0 {
				break
			}
			cur = a.states[cur].fail
		}
		for _, id := range a.states[cur].out {
			hit(int(id))
		}
	}
}
