package embedded

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"lachan/internal/event"
)

var decodeSeeds = []string{
	`{"@timestamp":"2026-11-23T08:00:00.123Z","event.dataset":"osquery.result","event.id":"e1","a":"x","n":-42,"f":1.5,"e":1e3,"t":true,"z":null,"l":["a",1,[2.5,false]]}`,
	`{"@timestamp":"2026-11-23T08:00:00Z","event.dataset":"d","event.id":"e1","s":"q\"\\\n\u00e9\ud83d\ude00","bad":"a\xffb"}`,
	`{"@timestamp":"2026-11-23T08:00:00Z","event.dataset":"d","event.id":"e1","yara.meta":{"a":"b"},"host":{"name":"x"}}`,
	`{"@timestamp":"2026-11-23T08:00:00Z","event.dataset":"d","event.id":"e1","a":1,"a":2}`,
	`{"@timestamp":"2026-11-23T08:00:00Z","event.dataset":"d","event.id":"e1","a":01}`,
	`{"@timestamp":"2026-11-23T08:00:00Z","event.dataset":"d","event.id":"e1"} trailing`,
	`{"@timestamp":5,"event.dataset":"d","event.id":"e1"}`,
	`{"event.dataset":"d","event.id":"e1"}`,
	` { "@timestamp" : "2026-11-23T08:00:00Z" , "event.dataset" : "d" , "event.id" : "e1" , "l" : [ ] } `,
	`{"@timestamp":"2026-11-23T08:00:00Z","event.dataset":"d","event.id":"e1","big":99999999999999999999}`,
	`{}`, `null`, `[`, ``,
}

// TestDecodeFast checks the fast decoder against event.UnmarshalJSON: where
// it decodes, it must agree; the bench event and the encoder's output must
// take the fast path.
func TestDecodeFast(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
	ev := benchEvent(7, 10, time.Date(2026, 11, 23, 8, 0, 0, 5, time.UTC))
	ev.Set("event.ratio", 0.25)
	ev.Set("event.flag", true)
	doc, err := appendEventJSON(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := decodeFast(fullDoc(tsID(ev.Timestamp, ev.ID), doc))
	if !ok {
		t.Fatalf("the store's own encoding took the slow path: %s", doc)
	}
	if !reflect.DeepEqual(got, ev) {
		t.Fatalf("decoded\n%#v\nwant\n%#v", got, ev)
	}
}

func checkDecode(t *testing.T, doc []byte) {
	t.Helper()
	fast, ok := decodeFast(doc)
	if !ok {
		return
	}
	var slow event.Event
	if err := slow.UnmarshalJSON(doc); err != nil {
		t.Fatalf("fast path accepted what UnmarshalJSON refuses (%v): %q", err, doc)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decoded differently from UnmarshalJSON: %q\nfast %#v\nslow %#v", doc, fast, slow)
	}
}

func FuzzDecodeFast(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { checkDecode(t, doc) })
}

// TestDecodeStored reads both stored forms: the document without
// @timestamp and event.id that the store writes now, given its sort key,
// and the whole document written before.
func TestDecodeStored(t *testing.T) {
	ev := benchEvent(7, 10, time.Date(2026, 11, 23, 8, 0, 0, 5, time.UTC))
	short, err := appendEventJSON(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	full, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if len(short) >= len(full) {
		t.Errorf("stored form of %d bytes, whole event %d", len(short), len(full))
	}
	tsid := tsID(ev.Timestamp, ev.ID)
	for name, c := range map[string]struct{ tsid, doc []byte }{"short": {tsid, short}, "full": {tsid, full}, "full, no key": {nil, full}} {
		got, err := decodeEvent(c.tsid, c.doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("%s: decoded\n%#v\nwant\n%#v", name, got, ev)
		}
	}
	// A field the fast decoder leaves to encoding/json.
	ev.Set("yara.meta", map[string]any{"author": "x"})
	short, _ = appendEventJSON(nil, ev)
	got, err := decodeEvent(tsid, short)
	if err != nil || got.ID != ev.ID || !got.Timestamp.Equal(ev.Timestamp) || got.String("host.id") != ev.String("host.id") {
		t.Errorf("slow path: %v, %#v", err, got)
	}
}

// FuzzDecodeStored decodes arbitrary documents under a sort key: no panic,
// and what decodes carries the key's ID unless the document names its own.
func FuzzDecodeStored(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"event.dataset":"d","a":"x"}`))
	f.Add([]byte(`{"event.dataset":"d"}`))
	f.Add([]byte(`{ }`))
	tsid := tsID(time.Date(2026, 11, 23, 8, 0, 0, 5, time.UTC), "k-1")
	f.Fuzz(func(t *testing.T, doc []byte) {
		ev, err := decodeEvent(tsid, doc)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(doc, []byte(fullDocPrefix)) && ev.ID != "k-1" && !bytes.Contains(doc, []byte("event.id")) {
			t.Fatalf("decoded ID %q from %q", ev.ID, doc)
		}
	})
}
