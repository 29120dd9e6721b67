package detect

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"testing/fstest"
	"time"

	"lachan/internal/event"
)

// sameAlert checks that the encoder writes, for every match on ev, the
// bytes the alert event itself encodes to: the first through Append, the
// others through AppendNext.
func sameAlert(t *testing.T, enc *AlertEncoder, name string, ms []Match, ev event.Event) {
	t.Helper()
	for i, m := range ms {
		want, err := m.Alert(ev).AppendJSON(nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		appendAlert := enc.Append
		if i > 0 {
			appendAlert = enc.AppendNext
		}
		got, err := appendAlert([]byte("prefix"), m, ev)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got[len("prefix"):], want) {
			t.Errorf("%s, rule %s:\n got %s\nwant %s", name, m.Rule.ID, got[len("prefix"):], want)
		}
	}
}

// TestAlertEncoderRegression compares the encoder with the alert events on
// every match of every SigmaHQ rule over the regression events, from the
// JSON rendering and the .evtx alike, with and without log.file.path.
func TestAlertEncoderRegression(t *testing.T) {
	e, _ := sigmaHQ(t)
	var enc AlertEncoder
	n := 0
	for _, c := range regressionCases(t) {
		for _, ext := range []string{".json", ".evtx"} {
			for _, ev := range readCaseEvents(t, c.dir, ext) {
				ms := e.Match(ev)
				n += len(ms)
				sameAlert(t, &enc, c.dir+ext, ms, ev)
				ev.Set("log.file.path", c.dir+"/events"+ext)
				sameAlert(t, &enc, c.dir+ext+" with log.file.path", ms, ev)
			}
		}
	}
	if n < 100 {
		t.Errorf("%d matches over the regression events, want at least 100", n)
	}
}

// TestAlertEncoderNextEvent: AppendNext gathers the context again for an
// event other than the previous call's, or one without an ID.
func TestAlertEncoderNextEvent(t *testing.T) {
	e, _ := sigmaHQ(t)
	var evs []event.Event
	var ms [][]Match
	for _, c := range regressionCases(t) {
		for _, ev := range readCaseEvents(t, c.dir, ".json") {
			if m := e.Match(ev); len(m) > 0 {
				evs, ms = append(evs, ev), append(ms, m)
			}
		}
	}
	var enc AlertEncoder
	for i := 1; i < len(evs); i++ {
		if _, err := enc.Append(nil, ms[i-1][0], evs[i-1]); err != nil {
			t.Fatal(err)
		}
		ev := evs[i]
		if i%2 == 0 {
			ev.ID = ""
		}
		want, err := ms[i][0].Alert(ev).AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := enc.AppendNext(nil, ms[i][0], ev)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("event %d after event %d:\n got %s\nwant %s", i, i-1, got, want)
		}
	}
}

// TestAlertEncoderCases covers what the regression events do not: the
// Security log's 4688 (NewProcessName, the creator's ProcessId),
// DOMAIN\user, registry objects, values of other types, rules without tags
// or description, text that must be escaped.
func TestAlertEncoderCases(t *testing.T) {
	tagged := "title: \"Quote \\\" <b>&\"\nid: 5f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\ndescription: Any.\nlevel: high\n" +
		"tags: [attack.execution, attack.t1204.002, attack.T1059, attack.g0001, attack.defense_evasion]\nlogsource: {product: test}\n" +
		"detection:\n  sel:\n    marker: 'x'\n  condition: sel\n"
	bare := "title: Bare\nid: 6f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\nlogsource: {product: test}\n" +
		"detection:\n  keywords: ['x']\n  condition: keywords\n"
	sources := LogSources{{LogSource: LogSource{Product: "test"}, Datasets: []string{testDataset, "windows.security"}}}
	e := engineForSources(t, sources, tagged, bare)
	tests := []struct {
		name    string
		dataset string
		fields  F
	}{
		{"platform event", testDataset, F{"marker": "x", "host.ip": []string{"10.0.0.5", "fe80::1"}, "host.id": "h-1",
			"file.size": 68, "process.pid": 42, "user.name": "a\u202eb\x7f", "lachan.unit": "phuong-1", "ratio": 0.5}},
		{"4688", "windows.security", F{"marker": "x", "EventID": 4688, "NewProcessName": `C:\Windows\cmd.exe`, "ProcessId": "0x1f4",
			"NewProcessId": "0x2a", "SubjectUserName": "alice", "SubjectDomainName": "CORP", "EventRecordID": 77, "Channel": "Security",
			"ParentProcessName": `C:\Windows\explorer.exe`, "CommandLine": "cmd /c \"echo <hi>\"\n"}},
		{"4688 without NewProcessId", "windows.security", F{"marker": "x", "NewProcessName": `C:\x.exe`, "ProcessId": 500}},
		{"sysmon user", "windows.security", F{"marker": "x", "Image": `C:\a\b.exe`, "User": `NT AUTHORITY\SYSTEM`, "ProcessId": 12,
			"ParentProcessId": 4, "ParentImage": "/usr/bin/bash", "EventRecordID": "12", "EventID": "1", "UtcTime": "-"}},
		{"registry object", "windows.security", F{"marker": "x", "ObjectName": `\REGISTRY\MACHINE\x`, "ObjectType": "Key", "file.path": "kept"}},
		{"file object", "windows.security", F{"marker": "x", "ObjectName": `C:\f.txt`, "ObjectType": "File", "SubjectUserSid": "S-1-5-18"}},
		{"values of other types", "windows.security", F{"marker": "x", "ProcessId": 1.5, "EventRecordID": 3.25, "Image": []any{"a", "b"},
			"ParentProcessId": nil, "User": true, "host.name": "pc", "destination.ip": "10.0.0.1"}},
		{"empty and dash", "windows.security", F{"marker": "x", "Image": "-", "ProcessName": "", "Application": `D:\app.exe`}},
	}
	var enc AlertEncoder
	for _, tt := range tests {
		ev := testEvent(tt.dataset, tt.fields)
		if v, ok := tt.fields["ParentProcessId"]; ok && v == nil {
			ev.Fields["ParentProcessId"] = nil
		}
		ms := e.Match(ev)
		if len(ms) == 0 {
			t.Fatalf("%s: no match", tt.name)
		}
		sameAlert(t, &enc, tt.name, ms, ev)
		// A rule built outside an engine has no precomputed members.
		for _, m := range ms {
			r := *m.Rule
			r.alert = nil
			sameAlert(t, &enc, tt.name+" (rule outside an engine)", []Match{{Rule: &r, Fields: m.Fields}}, ev)
		}
	}
}

// TestAlertEncoderErrors: a value that cannot be written fails the
// alert with the error the alert event gives, whichever of the event's
// pieces holds it and whether the match's own fields fail first; the
// alerts after it, through AppendNext, fail alike, and an event with the
// same ID at another time is encoded anew.
func TestAlertEncoderErrors(t *testing.T) {
	rule := "title: R\nid: 7f0e4a9c-3b1d-4e2f-8a7b-6c5d4e3f2a1b\nlevel: low\ntags: [attack.execution]\n" +
		"logsource: {product: test}\ndetection:\n  sel:\n    marker: 'x'\n  condition: sel\n"
	sources := LogSources{{LogSource: LogSource{Product: "test"}, Datasets: []string{testDataset, "windows.security"}}}
	e := engineForSources(t, sources, rule)
	nan := math.NaN()
	tests := []struct {
		name    string
		dataset string
		fields  F
		matched MatchedFields // replaces the match's fields when set
	}{
		{"before event.kind", testDataset, F{"marker": "x", "destination.ip": nan}, nil},
		{"before matched", testDataset, F{"marker": "x", "host.name": nan}, nil},
		{"matched before host", testDataset, F{"marker": "x", "host.name": nan}, MatchedFields{{"z", nan}}},
		{"matched", testDataset, F{"marker": "x"}, MatchedFields{{"a", "ok"}, {"z", math.Inf(1)}}},
		{"matched before process", testDataset, F{"marker": "x", "process.pid": nan}, MatchedFields{{"z", nan}}},
		{"process from Windows", "windows.security", F{"marker": "x", "ProcessId": nan, "Image": `C:\\a.exe`}, nil},
		{"source.ip", testDataset, F{"marker": "x", "source.ip": nan, "user.id": nan}, nil},
		{"after tags", testDataset, F{"marker": "x", "user.id": nan}, nil},
		{"last", "windows.security", F{"marker": "x", "Provider_Name": nan}, nil},
		{"none", "windows.security", F{"marker": "x", "Provider_Name": "p"}, nil},
	}
	var enc AlertEncoder
	for _, tt := range tests {
		ev := testEvent(tt.dataset, tt.fields)
		ms := e.Match(ev)
		if len(ms) != 1 {
			t.Fatalf("%s: %d matches, want 1", tt.name, len(ms))
		}
		m := ms[0]
		if tt.matched != nil {
			m.Fields = tt.matched
		}
		_, want := m.Alert(ev).AppendJSON(nil)
		for i := range 2 {
			appendAlert := enc.Append
			if i > 0 {
				appendAlert = enc.AppendNext
			}
			_, got := appendAlert(nil, m, ev)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s, alert %d: error %v, want %v", tt.name, i+1, got, want)
			}
		}
		if want != nil {
			continue
		}
		later := ev
		later.Timestamp = ev.Timestamp.Add(1500 * time.Millisecond)
		sameAlert(t, &enc, tt.name+" later", []Match{m, m}, later)
		wantLater, _ := m.Alert(later).AppendJSON(nil)
		got, _ := enc.AppendNext(nil, m, later)
		if !bytes.Equal(got, wantLater) {
			t.Errorf("%s at another time:\n got %s\nwant %s", tt.name, got, wantLater)
		}
		got, _ = enc.AppendNext(nil, m, ev)
		if wantFirst, _ := m.Alert(ev).AppendJSON(nil); !bytes.Equal(got, wantFirst) {
			t.Errorf("%s back at its time:\n got %s\nwant %s", tt.name, got, wantFirst)
		}
	}
}

// TestAlertKeysSorted keeps the keys in the order event.AppendJSON writes.
func TestAlertKeysSorted(t *testing.T) {
	names := map[alertKey]string{kEventKind: "event.kind", kMatched: "lachan.alert.matched", kRule: "rule.description", kTags: "tags"}
	prev := ""
	for k := alertKey(0); k < numAlertKeys; k++ {
		n := alertKeyNames[k]
		if n == "" {
			n = names[k]
		}
		if n <= prev {
			t.Errorf("%q comes after %q", n, prev)
		}
		prev = n
	}
	for _, f := range append(append([]string{}, contextFields...), "process.name", "process.parent.name", "process.parent.pid", "user.domain") {
		if _, ok := alertKeyOf[f]; !ok {
			t.Errorf("no key for %s", f)
		}
	}
	for _, c := range winContext {
		if _, ok := alertKeyOf[c.ecs]; !ok {
			t.Errorf("no key for %s", c.ecs)
		}
	}
}

// BenchmarkAlert compares building and encoding an alert the two ways, on
// a Sysmon process creation with its whole context.
func BenchmarkAlert(b *testing.B) {
	e, _ := sigmaHQ(b)
	var ev event.Event
	var ms []Match
	for _, c := range regressionCases(b) {
		for _, x := range readCaseEvents(b, c.dir, ".json") {
			if x.String("EventID") == "1" {
				if ms = e.Match(x); len(ms) > 0 {
					ev = x
					break
				}
			}
		}
		if len(ms) > 0 {
			break
		}
	}
	if len(ms) == 0 {
		b.Fatal("no process creation alert")
	}
	ev.Set("log.file.path", "sysmon.jsonl")
	b.Run("event", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := 0; i < b.N; i++ {
			buf, _ = ms[0].Alert(ev).AppendJSON(buf[:0])
		}
	})
	b.Run("encoder", func(b *testing.B) {
		b.ReportAllocs()
		var enc AlertEncoder
		var buf []byte
		for i := 0; i < b.N; i++ {
			buf, _ = enc.Append(buf[:0], ms[0], ev)
		}
	})
}

func engineForSources(t testing.TB, sources LogSources, rules ...string) *Engine {
	t.Helper()
	fsys := fstest.MapFS{}
	for i, r := range rules {
		fsys[fmt.Sprintf("r%02d.yml", i)] = &fstest.MapFile{Data: []byte(r)}
	}
	e, errs := Load(fsys, ".", sources)
	if len(errs) > 0 {
		t.Fatalf("Load: %v", errs)
	}
	return e
}
