package embedded

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestArena(t *testing.T) {
	var a arena
	var got [][]byte
	for round := range 2 {
		got = got[:0]
		for i, n := range []int{10, 3, arenaChunk / 2, 7, arenaChunk * 2, 5, arenaChunk - 20, 1} {
			b := a.make(n)
			if len(b) != 0 || cap(b) != n {
				t.Fatalf("round %d, request %d: len %d cap %d, want 0 and %d", round, i, len(b), cap(b), n)
			}
			for range n {
				b = append(b, byte(i+1))
			}
			got = append(got, b)
		}
		// No slice handed out shares memory with another.
		for i, b := range got {
			for _, c := range b {
				if c != byte(i+1) {
					t.Fatalf("round %d: request %d was overwritten", round, i)
				}
			}
		}
		a.reset()
	}
	if len(a.chunks) > 4 {
		t.Errorf("%d chunks after two rounds of the same requests: reset does not reuse them", len(a.chunks))
	}
}

// TestScratchReuse checks that the column and posting builders a batch
// leaves behind give the next batch exactly what fresh ones would: no
// column, value or list of the first batch reaches the second.
func TestScratchReuse(t *testing.T) {
	p := makePart('e', 1)
	first := make([]colRow, 0, 40)
	for n := range 40 {
		ev := colEvent(n)
		ev.Set("only.first", fmt.Sprintf("v%d", n%3))
		first = append(first, colRow{tsid: tsID(ev.Timestamp, ev.ID), ev: ev})
	}
	second := make([]colRow, 0, 25)
	for n := range 25 {
		ev := benchEvent(n, 7, benchT0.Add(time.Duration(n)*time.Second))
		second = append(second, colRow{tsid: tsID(ev.Timestamp, ev.ID), ev: ev})
	}
	var cs colSet
	var a arena
	build := func(cs *colSet, a *arena, rows []colRow) []kv {
		out, posts, err := cs.appendBlocks(nil, nil, p, 0, rows, a)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, posts...)
		slices.SortFunc(out, func(x, y kv) int { return bytes.Compare(x.k, y.k) })
		// Copies: the arena is reused.
		for i := range out {
			out[i].k, out[i].v = bytes.Clone(out[i].k), bytes.Clone(out[i].v)
		}
		return out
	}
	build(&cs, &a, first)
	a.reset()
	reused := build(&cs, &a, second)
	fresh := build(&colSet{}, &arena{}, second)
	if len(reused) != len(fresh) {
		t.Fatalf("%d entries from reused builders, %d from fresh ones", len(reused), len(fresh))
	}
	for i := range fresh {
		if !bytes.Equal(reused[i].k, fresh[i].k) || !bytes.Equal(reused[i].v, fresh[i].v) {
			t.Fatalf("entry %d: reused %q = %x, fresh %q = %x", i, reused[i].k, reused[i].v, fresh[i].k, fresh[i].v)
		}
	}
	for _, x := range reused {
		if bytes.Contains(x.k, []byte("only.first")) {
			t.Errorf("the second batch has a column of the first: %q", x.k)
		}
	}
}
