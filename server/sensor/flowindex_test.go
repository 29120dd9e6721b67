package sensor

import (
	"math/rand/v2"
	"testing"
)

// TestFlowIndex churns flows through the index beside a Go map and checks
// after every step that each flow is found, and nothing else: the table
// stays small, so probes wrap around its end and removals shift clusters.
func TestFlowIndex(t *testing.T) {
	for _, limit := range []int{1, 5, 31, 32, 33, 300} {
		rng := rand.New(rand.NewPCG(1, uint64(limit)))
		x := newFlowIndex()
		ref := map[flowKey]*flow{}
		keys := make([]flowKey, 2*limit+10)
		for i := range keys {
			k := flowKey{ap: uint16(rng.IntN(4)), bp: 80, proto: protoTCP, v6: i%2 == 0}
			k.a.lo, k.b.lo = uint64(i), uint64(i>>8)
			keys[i] = k
		}
		for step := range 5000 {
			k := keys[rng.IntN(len(keys))]
			h := x.hash(&k)
			f, slot := x.find(&k, h)
			if f != ref[k] {
				t.Fatalf("limit %d step %d: found %p, want %p", limit, step, f, ref[k])
			}
			switch {
			case f != nil:
				x.remove(f)
				delete(ref, k)
			case len(ref) < limit:
				f = &flow{key: k}
				x.insert(f, h, slot)
				ref[k] = f
			}
			if x.n != len(ref) || 2*x.n > len(x.slots) {
				t.Fatalf("limit %d step %d: %d flows in %d slots, want %d", limit, step, x.n, len(x.slots), len(ref))
			}
			for k, want := range ref {
				if got, _ := x.find(&k, x.hash(&k)); got != want {
					t.Fatalf("limit %d step %d: lost a flow", limit, step)
				}
			}
		}
	}
}

// TestFlowIndexHashSpread checks that keys differing in any one field
// hash apart, and that two tables hash the same key differently.
func TestFlowIndexHashSpread(t *testing.T) {
	x, y := newFlowIndex(), newFlowIndex()
	base := flowKey{ap: 1000, bp: 80, proto: protoTCP}
	seen := map[uint64]bool{x.hash(&base): true}
	vary := []func(*flowKey){
		func(k *flowKey) { k.a.lo++ }, func(k *flowKey) { k.a.hi++ }, func(k *flowKey) { k.b.lo++ },
		func(k *flowKey) { k.b.hi++ }, func(k *flowKey) { k.ap++ }, func(k *flowKey) { k.bp++ },
		func(k *flowKey) { k.proto = protoUDP }, func(k *flowKey) { k.v6 = true },
		func(k *flowKey) { k.a, k.b, k.ap, k.bp = k.b, k.a, k.bp, k.ap },
	}
	for i, v := range vary {
		k := base
		k.a.lo = 1
		v(&k)
		h := x.hash(&k)
		if seen[h] {
			t.Errorf("change %d: hash %x seen before", i, h)
		}
		seen[h] = true
	}
	if x.hash(&base) == y.hash(&base) {
		t.Error("two tables hash alike: the seed is not used")
	}
}
