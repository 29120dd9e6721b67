package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/test/procstat"
	"lachan/test/shareddata"
)

// lineTemplates are templates of every kind without the shared data: the
// Windows ones a hand-made event with what needs escaping.
func lineTemplates(t testing.TB) *templates {
	win := event.New("windows.sysmon", time.Date(2026, 12, 3, 8, 0, 0, 123456789, time.UTC))
	win.Set("process.command_line", `"C:\Windows\System32\cmd.exe" /c echo "<xin chào>" & whoami`)
	win.Set("winlog.event_id", int64(1))
	win.Set("event.category", []string{"process"})
	tm := &templates{dense: []event.Event{win}, benign: []event.Event{win}, osquery: osqueryRows(), yara: yaraFindings(),
		mix: mix{windows: 50, osquery: 30, alertEvery: 3}}
	if err := tm.encode(); err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestLineIsAppendJSON checks that a line made from the encoded template
// is byte for byte what event.AppendJSON writes of the template with that
// ID and time, and decodes as the server decodes it.
func TestLineIsAppendJSON(t *testing.T) {
	tm := lineTemplates(t)
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 12, 3, 17, 30, 1, 250005000, time.FixedZone("ICT", 7*3600))
	ts := now.UTC().AppendFormat(nil, time.RFC3339Nano)
	dec := event.NewDecoder()
	ids := map[string]bool{}
	for n := range uint64(600) {
		// A third each with IDs as their sources make them, timed IDs and
		// hashed ones.
		tm.mix.ids = []idMode{idsSources, idsTimed, idsHashed}[n/200]
		got := tm.appendLine(nil, n, ts, now, rng)
		off := len(jsonHead) + len(ts) + len(tm.pick(n).mid)
		id := string(got[off : off+32])
		want := pickEvent(tm, n)
		want.ID, want.Timestamp = id, now
		wb, err := want.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append(wb, '\n')) {
			t.Fatalf("event %d:\n got %s\nwant %s", n, got, wb)
		}
		ev, err := dec.Decode(bytes.TrimSpace(got))
		if err != nil {
			t.Fatalf("event %d: %v", n, err)
		}
		if ev.ID != id || !ev.Timestamp.Equal(now) || ev.Dataset != want.Dataset {
			t.Fatalf("event %d decoded as %s %s %s", n, ev.ID, ev.Timestamp, ev.Dataset)
		}
		// What the ID leads with: the event's millisecond, its second, or
		// neither (all hash).
		lead := idHash
		switch id[:12] {
		case fmt.Sprintf("%012x", now.UnixMilli()):
			lead = idMilli
		case fmt.Sprintf("%012x", now.Truncate(time.Second).UnixMilli()):
			lead = idSecond
		}
		wantForm := map[idMode]idForm{idsTimed: idMilli, idsHashed: idHash}[tm.mix.ids]
		if tm.mix.ids == idsSources {
			wantForm = map[string]idForm{"windows.sysmon": idSecond, event.DatasetOsquery: idMilli, event.DatasetYARA: idHash}[pickEvent(tm, n).Dataset]
		}
		if lead != wantForm {
			t.Fatalf("event %d (%s, IDs %s): ID %s leads with form %d, want %d", n, pickEvent(tm, n).Dataset, idModes[tm.mix.ids], id, lead, wantForm)
		}
		if ids[id] {
			t.Fatalf("event %d: ID %s given twice", n, id)
		}
		ids[id] = true
	}
}

// pickEvent is the template event behind pick(n).
func pickEvent(tm *templates, n uint64) event.Event {
	l := tm.pick(n)
	for _, k := range []struct {
		evs   []event.Event
		lines []line
	}{{tm.dense, tm.lines.dense}, {tm.benign, tm.lines.benign}, {tm.osquery, tm.lines.osquery}, {tm.yara, tm.lines.yara}} {
		for i := range k.lines {
			if &k.lines[i] == l {
				return k.evs[i]
			}
		}
	}
	panic("no template")
}

// TestEncodeBatch checks a whole body: gzip NDJSON of count events with
// distinct IDs, the agent's n-th event on line n-first.
func TestEncodeBatch(t *testing.T) {
	tm := lineTemplates(t)
	var buf bytes.Buffer
	rng := rand.New(rand.NewPCG(3, 4))
	body, err := encode(tm, &buf, rng, 1000, 700)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	seen := map[string]bool{}
	dec := event.NewDecoder()
	i := uint64(1000)
	for sc.Scan() {
		ev, err := dec.Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", i-999, err)
		}
		if seen[ev.ID] {
			t.Fatalf("line %d: ID %s twice", i-999, ev.ID)
		}
		seen[ev.ID] = true
		if want := pickEvent(tm, i); ev.Dataset != want.Dataset {
			t.Fatalf("line %d: dataset %s, want %s", i-999, ev.Dataset, want.Dataset)
		}
		i++
	}
	if err := sc.Err(); err != nil || i != 1700 {
		t.Fatalf("%d lines (%v), want 700", i-1000, err)
	}
}

// BenchmarkEncode is what the load generator spends on one event of a
// shipment of 100 (the size each of 2,000 agents ships at 20,000
// events/s every 10 s), in CPU time: stamping its line and compressing
// it. It uses the run's own templates, from the shared SigmaHQ data.
func BenchmarkEncode(b *testing.B) {
	data := shareddata.Dir(b)
	tm, err := loadTemplates(filepath.Join(data, "sigma", "sigmahq"), mix{windows: 80, osquery: 18, alertEvery: 100})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	rng := rand.New(rand.NewPCG(5, 6))
	var events, raw, out int
	b.ResetTimer()
	cpu0 := procstat.SelfCPU()
	for i := 0; b.Loop(); i++ {
		body, err := encode(tm, &buf, rng, uint64(i)*100, 100)
		if err != nil {
			b.Fatal(err)
		}
		out += len(body)
		events += 100
	}
	cpu := procstat.SelfCPU() - cpu0
	b.StopTimer()
	for i := range uint64(10000) {
		raw += len(tm.appendLine(nil, i, []byte("2026-12-03T17:00:00.123456789Z"), time.Now(), rng))
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(events), "cpu-µs/event")
	b.ReportMetric(float64(out)/float64(events), "gzip-B/event")
	b.ReportMetric(float64(raw)/10000, "json-B/event")
}
