package sensor

import (
	"math/bits"
	"math/rand/v2"
)

// flowIndex finds open flows by their key. It is an open-addressing
// table with linear probing, at most half full, whose slots hold a flow
// and the hash of its key, so that a probe reads only the flows whose
// hash matches. Against a Go map keyed by the 40-byte flowKey it hashes a
// key once per packet with a few multiplications instead of a general
// byte hash, and needs no hash at all to find a slot to fill or empty
// that a lookup has just found; it also takes less memory per flow
// (16 to 32 bytes, the map 56 to 112).
//
// The hash is seeded at random per table, so that traffic crafted to fall
// into one chain of slots cannot be worked out in advance.
type flowIndex struct {
	slots []indexSlot
	n     int // flows in the table
	seed  uint64
}

type indexSlot struct {
	hash uint64
	f    *flow // nil for an empty slot
}

// minIndexSlots is the size of a new table; it doubles as flows come.
const minIndexSlots = 64

func newFlowIndex() *flowIndex {
	return &flowIndex{slots: make([]indexSlot, minIndexSlots), seed: rand.Uint64()}
}

// Mixing constants of wyhash, odd and with well-spread bits.
const (
	mixP0 = 0xa0761d6478bd642f
	mixP1 = 0xe7037ed1a0b428db
	mixP2 = 0x8ebc6af09c88c6e3
	mixP3 = 0x589965cc75374cc3
)

// mix multiplies a and b into 128 bits and folds the halves together.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash hashes every field of k under the table's seed.
func (x *flowIndex) hash(k *flowKey) uint64 {
	a0, a1, b0, b1 := k.a.hi, k.a.lo, k.b.hi, k.b.lo
	rest := uint64(k.ap) | uint64(k.bp)<<16 | uint64(k.proto)<<32
	if k.v6 {
		rest |= 1 << 40
	}
	h := mix(a0^mixP0, a1^x.seed) ^ mix(b0^mixP1, b1^x.seed)
	return mix(h^mixP2, rest^mixP3^x.seed)
}

// find returns the flow with key k, whose hash is h, or nil, and the
// slot where it is or where it would go.
func (x *flowIndex) find(k *flowKey, h uint64) (*flow, int) {
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.f == nil || s.hash == h && s.f.key == *k {
			return s.f, int(i)
		}
	}
}

// insert puts f, whose key hashes to h, in slot i, which find has just
// returned for that key.
func (x *flowIndex) insert(f *flow, h uint64, i int) {
	x.slots[i] = indexSlot{hash: h, f: f}
	x.n++
	if 2*x.n > len(x.slots) {
		x.grow()
	}
}

func (x *flowIndex) grow() {
	old := x.slots
	x.slots = make([]indexSlot, 2*len(old))
	mask := uint64(len(x.slots) - 1)
	for _, s := range old {
		if s.f == nil {
			continue
		}
		i := s.hash & mask
		for x.slots[i].f != nil {
			i = (i + 1) & mask
		}
		x.slots[i] = s
	}
}

// remove takes f out of the table. The slots after it that its own slot
// kept from their home slot move back, so that no probe stops short.
func (x *flowIndex) remove(f *flow) {
	mask := uint64(len(x.slots) - 1)
	i := x.hash(&f.key) & mask
	for x.slots[i].f != f {
		i = (i + 1) & mask
	}
	for j := i; ; {
		x.slots[i] = indexSlot{}
		for {
			j = (j + 1) & mask
			s := x.slots[j]
			if s.f == nil {
				x.n--
				return
			}
			// s may move to i unless its home slot lies after i, up to j
			// (cyclically), where a probe for it starts past i.
			if (j-s.hash)&mask >= (j-i)&mask {
				x.slots[i] = s
				i = j
				break
			}
		}
	}
}
