package embedded

// arena hands out byte slices for the keys and values of one write batch
// from a few large chunks, which it keeps from one batch to the next:
// Pebble copies what a batch is given, so once the batch is applied the
// memory can serve the next one. A slice it returns is valid until reset.
type arena struct {
	chunks [][]byte
	cur    int
}

const (
	arenaChunk = 256 << 10
	arenaKept  = 16 << 20
)

// make returns an empty slice with room for n bytes; appending beyond n
// moves it out of the arena, which is safe, only slower.
func (a *arena) make(n int) []byte {
	small := n <= arenaChunk/4
	for i := a.cur; i < len(a.chunks); i++ {
		c := a.chunks[i]
		if off := len(c); cap(c)-off >= n {
			a.chunks[i] = c[:off+n]
			return c[off : off : off+n]
		}
		if small && i == a.cur {
			// Too full for a small request: too full for the next ones
			// too. A large request looks further without giving up the
			// room left here.
			a.cur++
		}
	}
	c := make([]byte, n, max(n, arenaChunk))
	a.chunks = append(a.chunks, c)
	if small {
		a.cur = len(a.chunks) - 1
	}
	return c[:0:n]
}

// reset makes the whole arena free again; nothing handed out before may be
// used after.
func (a *arena) reset() {
	total := 0
	for _, c := range a.chunks {
		total += cap(c)
	}
	if total > arenaKept {
		// One huge batch (a migration, an import) leaves no lasting weight.
		a.chunks, a.cur = nil, 0
		return
	}
	for i := range a.chunks {
		a.chunks[i] = a.chunks[i][:0]
	}
	a.cur = 0
}
