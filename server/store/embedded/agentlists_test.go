package embedded

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"lachan/internal/event"
	"lachan/server/store"
)

// agentPC returns the ID of PC i: one of nine, one of which is longer
// than an index value keeps whole (maxIndexValue).
func agentPC(i int) string {
	if i%9 == 6 {
		return strings.Repeat("p", maxIndexValue+40) + "-6"
	}
	return fmt.Sprintf("pc-%d", i%9)
}

// agentEvent returns event n of a corpus in which agent.id and host.id
// relate every way they can: the same value (as the server stamps an
// agent's events), different values, one without the other, a list on
// either side holding the other's value, and an agent whose ID is another
// PC's host.id.
func agentEvent(n int) event.Event {
	ev := event.Event{ID: fmt.Sprintf("a%05d", n), Timestamp: benchT0.Add(time.Duration(n) * 3 * time.Minute), Dataset: []string{event.DatasetOsquery, "yara.finding"}[n%2]}
	pc := agentPC
	host := pc(n % 7)
	ev.Set("lachan.unit", fmt.Sprintf("ward-%d", n%3))
	switch n % 8 {
	case 0, 1, 2:
		ev.Set("host.id", host)
		ev.Set("agent.id", host)
	case 3: // a host without an agent (an imported record)
		ev.Set("host.id", host)
	case 4: // another PC's ID as the agent
		ev.Set("host.id", host)
		ev.Set("agent.id", pc(n%7+1))
	case 5: // an agent without a host
		ev.Set("agent.id", host)
	case 6:
		ev.Set("host.id", host)
		ev.Set("agent.id", []any{host, pc(8)})
	case 7:
		ev.Set("host.id", []any{pc(8), host})
		ev.Set("agent.id", pc(8))
	}
	return ev
}

// agentLists counts the posting lists of agent.id in e.
func agentLists(t *testing.T, e *Engine) int {
	t.Helper()
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixPart), UpperBound: prefixEnd([]byte(prefixPart))})
	must(t, err)
	defer it.Close()
	genAt := len(prefixPart) + partLen + len(prefixIndex)
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) > genAt+4 && k[genAt-1] == prefixIndex[0] && bytes.HasPrefix(k[genAt+4:], []byte(agentField+"\x00")) {
			n++
		}
	}
	return n
}

// agentQueries are the queries on agent.id every agent test runs: Terms
// of one value and of several, a filter's term, with units, a window and
// either order.
func agentQueries() []store.Query {
	var qs []store.Query
	for i := range 10 {
		v := agentPC(i)
		if i == 9 {
			v = "pc-none"
		}
		qs = append(qs,
			store.Query{Terms: map[string][]string{agentField: {v}}},
			store.Query{Terms: map[string][]string{agentField: {v, agentPC(i + 3)}}, Asc: true},
			store.Query{Terms: map[string][]string{agentField: {v}}, Units: []string{"ward-1"}},
			store.Query{Terms: map[string][]string{agentField: {v}, event.FieldDataset: {"yara.finding"}},
				From: benchT0.Add(2 * time.Hour), To: benchT0.Add(9 * time.Hour)},
			store.Query{Filter: &store.Expr{Op: store.OpTerm, Field: agentField, Value: v}, Asc: true},
		)
	}
	return qs
}

// agentsAgree runs agentQueries against e and Query.Match over all,
// searches and aggregations both.
func agentsAgree(t *testing.T, e *Engine, all []event.Event) {
	t.Helper()
	qs := agentQueries()
	found := 0
	for _, q := range qs {
		got, want := searchAll(t, e, q), bruteForce(all, q)
		if !slices.Equal(got, want) {
			t.Errorf("%+v: got %d events %v, want %d %v", q, len(got), got, len(want), want)
		}
		if len(want) > 0 {
			found++
		}
		checkAggs(t, e, all, q, fmt.Sprint(q.Terms, q.Filter))
	}
	if found < len(qs)/2 {
		t.Errorf("only %d of %d queries match any event: the corpus tests little", found, len(qs))
	}
}

// TestAgentLists: an agent's events listed under host.id are left out of
// agent.id's lists, and every search and aggregation on agent.id still
// finds exactly what Query.Match finds, whatever the two fields hold.
func TestAgentLists(t *testing.T) {
	ctx := context.Background()
	e := openAt(t, t.TempDir(), true)
	e.genSize = 40
	var all []event.Event
	for n := range 400 {
		all = append(all, agentEvent(n))
	}
	for i := 0; i < len(all); i += 37 {
		if _, err := e.PutEvents(ctx, all[i:min(i+37, len(all))]); err != nil {
			t.Fatal(err)
		}
	}
	agentsAgree(t, e, all)
	if n := agentLists(t, e); n == 0 {
		t.Error("no list of agent.id, though some agents' events carry another host.id or none")
	}

	// Agents stamped as the server does: no list of agent.id at all.
	s := openAt(t, t.TempDir(), true)
	var stamped []event.Event
	for n := range 200 {
		if ev := agentEvent(n); n%8 < 3 {
			stamped = append(stamped, ev)
		}
	}
	if _, err := s.PutEvents(ctx, stamped); err != nil {
		t.Fatal(err)
	}
	if n := agentLists(t, s); n != 0 {
		t.Errorf("%d lists of agent.id for agents stamped with their host's ID, want 0", n)
	}
	agentsAgree(t, s, stamped)
}

// TestLayout7AgentLists: a store whose agent.id lists are whole, as
// layout 7 wrote them, is marked 8 on open, and searches on agent.id read
// its events and new ones alike, each once.
func TestLayout7AgentLists(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := openAt(t, dir, true)
	e.genSize = 40
	e.batch.cols.agentWhole = true
	var old []event.Event
	for n := range 200 {
		old = append(old, agentEvent(n))
	}
	if _, err := e.PutEvents(ctx, old); err != nil {
		t.Fatal(err)
	}
	whole := agentLists(t, e)
	must(t, e.db.Set([]byte(keyLayout), []byte(layoutV7), pebble.Sync))
	must(t, e.Close())

	e, more := openMarked(t, dir, layoutV7, old)
	all := append(slices.Clone(old), more...)
	agentsAgree(t, e, all)
	if n := agentLists(t, e); n >= 2*whole {
		t.Errorf("%d lists of agent.id after the same events again, %d before: the new ones are not left out", n, whole)
	}
}
