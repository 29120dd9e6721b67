package event

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	ev := New(DatasetYARA, time.Date(2026, 11, 23, 8, 0, 0, 123, time.UTC))
	ev.Set("file.path", `C:\Users\lan\Downloads\hóa đơn.exe`)
	ev.Set("file.size", 68)
	ev.Set("yara.tags", []string{"eicar", "test"})
	ev.Set("yara.meta", map[string]any{"author": "x", "score": int64(5)})
	ev.Set("source.ip", "10.1.2.3")
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	if got.ID != ev.ID || !got.Timestamp.Equal(ev.Timestamp) || got.String("file.path") != ev.String("file.path") ||
		got.Int("file.size") != 68 || len(got.Strings("yara.tags")) != 2 {
		t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, got)
	}
	b2, _ := json.Marshal(got)
	if string(b) != string(b2) {
		t.Fatalf("encoding not stable:\n%s\n%s", b, b2)
	}
}

func TestNestedIsFlattened(t *testing.T) {
	in := `{"@timestamp":"2026-11-23T08:00:00Z","event":{"id":"abc","dataset":"x.y"},"host":{"name":"pc"},"dns":{"answers":[{"data":"1.2.3.4","ttl":60}]}}`
	var ev Event
	if err := json.Unmarshal([]byte(in), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != "abc" || ev.String("host.name") != "pc" {
		t.Fatalf("got %+v", ev)
	}
	if ans, ok := ev.Fields["dns.answers"].([]any); !ok || len(ans) != 1 {
		t.Fatalf("answers %#v", ev.Fields["dns.answers"])
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	base := `"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x"`
	cases := []struct{ in, field string }{
		{`{"event.id":"a1","event.dataset":"d.x"}`, "@timestamp"},
		{`{"@timestamp":"yesterday","event.id":"a1","event.dataset":"d.x"}`, "@timestamp"},
		{`{"@timestamp":"2026-11-23T08:00:00Z","event.dataset":"d.x"}`, "event.id"},
		{`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a b","event.dataset":"d.x"}`, "event.id"},
		{`{` + base + `,"source.ip":"999.1.1.1"}`, "source.ip"},
		{`{` + base + `,"source.port":70000}`, "source.port"},
		{`{` + base + `,"file.size":"big"}`, "file.size"},
		{`{` + base + `,"host.id":5}`, "host.id"},
		{`{` + base + `,"bad name!":1}`, "bad name!"},
		{`{` + base + `,"host":{"name":"a"},"host.name":"b"}`, "host.name"},
	}
	for _, c := range cases {
		var ev Event
		err := json.Unmarshal([]byte(c.in), &ev)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: err = %v, want a FieldError naming %s", c.in, err, c.field)
		}
	}
	var ev Event
	if err := json.Unmarshal([]byte(`[1,2]`), &ev); err == nil {
		t.Error("an array decoded as an event")
	}
	if err := json.Unmarshal([]byte(`{`+base+`,"x.y":"`+strings.Repeat("a", MaxValueBytes+1)+`"}`), &ev); err == nil {
		t.Error("an oversized value was accepted")
	}
}

func TestIDs(t *testing.T) {
	a, b := NewID(), NewID()
	if a == b || len(a) != 32 || checkID(a) != nil {
		t.Fatalf("NewID: %q %q", a, b)
	}
	if DeriveID("x", "y") != DeriveID("x", "y") || DeriveID("x", "y") == DeriveID("xy") {
		t.Fatal("DeriveID is not a stable, unambiguous function of its parts")
	}
	ts := time.Date(2026, 12, 4, 8, 0, 0, 123_456_789, time.UTC)
	id := DeriveTimedID(ts, "x", "y")
	if id != DeriveTimedID(ts, "x", "y") || id == DeriveTimedID(ts, "xy") || len(id) != 32 || checkID(id) != nil {
		t.Fatalf("DeriveTimedID is not a stable, unambiguous ID of its parts: %q", id)
	}
	// The time in milliseconds leads, and the parts' hash follows it.
	if ms := fmt.Sprintf("%012x", ts.UnixMilli()); id[:12] != ms || id[12:] != DeriveID("x", "y")[:20] {
		t.Fatalf("DeriveTimedID(%s) = %s, want %s then the hash", ts, id, ms)
	}
	// IDs of later records sort after, whatever their parts.
	if later := DeriveTimedID(ts.Add(time.Millisecond), "a"); later <= DeriveTimedID(ts, "z", "z") {
		t.Fatalf("%s sorts before an earlier record's ID", later)
	}
	if DeriveTimedID(ts, "x") == DeriveTimedID(ts.Add(time.Millisecond), "x") {
		t.Fatal("two times gave one ID")
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","host":{"name":"pc"},"n":[1,{"a":2}]}`))
	f.Add([]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event":{"id":"a1","dataset":"d.x"},"source.ip":"::1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev Event
		if err := json.Unmarshal(data, &ev); err != nil {
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("decoded an invalid event: %v", err)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var again Event
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
	})
}

// BenchmarkValidate checks an event shaped like a Sysmon process
// creation: some forty undotted names, strings and integers.
func BenchmarkValidate(b *testing.B) {
	ev := Event{ID: "0123456789abcdef0123456789abcdef", Timestamp: time.Unix(1700000000, 0), Dataset: "windows.sysmon", Fields: map[string]any{}}
	for _, k := range []string{"Provider_Name", "Provider_Guid", "EventID", "Version", "Level", "Task", "Opcode",
		"Keywords", "TimeCreated_SystemTime", "EventRecordID", "Correlation", "Execution_ProcessID",
		"Execution_ThreadID", "Channel", "Computer", "Security_UserID", "RuleName", "UtcTime", "ProcessGuid",
		"ProcessId", "Image", "FileVersion", "Description", "Product", "Company", "OriginalFileName",
		"CommandLine", "CurrentDirectory", "User", "LogonGuid", "LogonId", "TerminalSessionId",
		"IntegrityLevel", "Hashes", "ParentProcessGuid", "ParentProcessId", "ParentImage",
		"ParentCommandLine", "ParentUser", "host.name", "event.code"} {
		ev.Fields[k] = "C:\\Windows\\System32\\cmd.exe /c echo " + k
	}
	ev.Fields["EventRecordID"] = int64(1234)
	b.ReportAllocs()
	for b.Loop() {
		if err := ev.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestValidateFields(t *testing.T) {
	ev := Event{ID: "x", Timestamp: time.Unix(1700000000, 0), Dataset: "windows.sysmon",
		Fields: map[string]any{"Image": "cmd.exe", "source.port": int64(70000)}}
	if err := ev.ValidateFields(nil); err != nil {
		t.Errorf("fields checked as made: %v", err)
	}
	if err := ev.ValidateFields([]string{"Image", "absent"}); err != nil {
		t.Errorf("Image and an absent name unchecked: %v", err)
	}
	if err := ev.ValidateFields([]string{"source.port"}); err == nil {
		t.Error("source.port out of range passed")
	}
	if err := (Event{Dataset: "x"}).ValidateFields(nil); err == nil {
		t.Error("an event without a time passed")
	}
	for name, want := range map[string]bool{"Image": true, "source.port": false, "a..b": false, "": false, "host.name": true} {
		if got := FreeName(name); got != want {
			t.Errorf("FreeName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestTimedIDTime: the time leading a timed ID reads back to the
// millisecond; an ID of another form gives none.
func TestTimedIDTime(t *testing.T) {
	ts := time.Date(2026, 12, 5, 8, 0, 0, 123456789, time.UTC)
	id := DeriveTimedID(ts, "a")
	if got, ok := TimedIDTime(id); !ok || !got.Equal(ts.Truncate(time.Millisecond)) {
		t.Errorf("TimedIDTime(%q) = %v, %v; want %v", id, got, ok, ts.Truncate(time.Millisecond))
	}
	for _, bad := range []string{"", "e1", id + "0", "0192A3B4C5D6" + id[12:], "xyz" + id[3:], id[:20] + "A" + id[21:]} {
		if _, ok := TimedIDTime(bad); ok {
			t.Errorf("TimedIDTime(%q) took it as timed", bad)
		}
	}
}

// FuzzTimedIDTime: any string either is refused or is an ID that
// AppendTimedID writes again, byte for byte, from the time read and the
// hash after it.
func FuzzTimedIDTime(f *testing.F) {
	f.Add(DeriveTimedID(time.Date(2026, 12, 5, 8, 0, 0, 123456789, time.UTC), "a"))
	f.Add(DeriveID("a"))
	f.Add("e1")
	f.Add("ffffffffffffffffffffffffffffffff")
	f.Fuzz(func(t *testing.T, id string) {
		ts, ok := TimedIDTime(id)
		if !ok {
			return
		}
		sum, err := hex.DecodeString(id[12:])
		if len(id) != 32 || err != nil {
			t.Fatalf("TimedIDTime took %q", id)
		}
		if got := string(AppendTimedID(nil, ts, sum)); got != id {
			t.Fatalf("TimedIDTime(%q) = %v, written again as %q", id, ts, got)
		}
	})
}
