package osquery

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"lachan/test/shareddata"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lachan/internal/event"
)

func sharedData(t *testing.T) string { return shareddata.Dir(t) }

// collect parses and validates every event.
func collect(t *testing.T, r io.Reader) ([]event.Event, Stats, error) {
	t.Helper()
	var evs []event.Event
	st, err := ParseResultLog(r, func(ev event.Event) error {
		if verr := ev.Validate(); verr != nil {
			t.Errorf("invalid event %+v: %v", ev, verr)
		}
		evs = append(evs, ev)
		return nil
	})
	return evs, st, err
}

// TestMsticpyLogs checks the counts the data README gives for real
// osqueryd logs: 309 lines, 21 query names.
func TestMsticpyLogs(t *testing.T) {
	dir := filepath.Join(sharedData(t), "osquery", "msticpy")
	var all bytes.Buffer
	for _, f := range []string{"osqueryd.results.log", "osqueryd.snapshots.log"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Skipf("msticpy logs missing: %v", err)
		}
		all.Write(b)
	}
	evs, st, err := collect(t, bytes.NewReader(all.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 309 || len(st.Names) != 21 || st.Bad != 0 || st.Events != len(evs) || st.Events != 309 {
		t.Fatalf("stats %+v (%d names), want 309 lines and events, 21 names", st, len(st.Names))
	}
	bySuffix := map[string]int{}
	for name, n := range st.Names {
		for _, s := range []string{"python_packages", "processes", "shell_history", "dns_resolvers", "platform_info"} {
			if strings.HasSuffix(name, "_"+s) {
				bySuffix[s] += n
			}
		}
	}
	want := map[string]int{"python_packages": 40, "processes": 21, "shell_history": 15, "dns_resolvers": 2, "platform_info": 1}
	for k, v := range want {
		if bySuffix[k] != v {
			t.Errorf("%s: %d lines, want %d", k, bySuffix[k], v)
		}
	}
	actions := map[any]int{}
	ids := map[string]bool{}
	for _, ev := range evs {
		actions[ev.Fields["osquery.action"]]++
		ids[ev.ID] = true
	}
	if actions["added"] != 137 || actions["removed"] != 129 || actions["snapshot"] != 43 {
		t.Errorf("actions %v", actions)
	}
	if len(ids) != len(evs) {
		t.Errorf("%d distinct IDs for %d events", len(ids), len(evs))
	}
	first := evs[0]
	if first.Fields["host.name"] != "jumpvm" || first.Fields["osquery.columns.name"] != "kthreadd" ||
		first.Fields["osquery.decorations.host_uuid"] != "40443dd9-5b21-a345-8f89-aadde84c3719" ||
		first.Timestamp.Unix() != 1678936138 || first.Dataset != event.DatasetOsquery {
		t.Errorf("first event %+v", first)
	}
	// Parsing again gives the same IDs: importing a log twice stores it once.
	again, _, _ := collect(t, bytes.NewReader(all.Bytes()))
	if len(again) != len(evs) || again[5].ID != evs[5].ID {
		t.Error("IDs differ between two parses")
	}
}

// TestDocExamples parses the logging documentation's examples, which are
// pretty-printed; osqueryd writes each on one line.
func TestDocExamples(t *testing.T) {
	dir := filepath.Join(sharedData(t), "osquery", "osquery-docs")
	cases := []struct {
		file    string
		actions []string
		bad     int
	}{
		{"example_00.json", nil, 1}, // a schedule, not a result
		{"example_03.json", []string{"added"}, 0},
		{"example_04.json", []string{"removed"}, 0},
		{"example_05.json", []string{"snapshot", "snapshot", "snapshot", "snapshot"}, 0},
		{"example_06.json", []string{"added", "removed"}, 0},
	}
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Skipf("docs examples missing: %v", err)
		}
		var line bytes.Buffer
		if err := json.Compact(&line, b); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		evs, st, err := collect(t, &line)
		if st.Bad != c.bad || (err != nil) != (c.bad > 0) {
			t.Errorf("%s: %+v, %v", c.file, st, err)
		}
		var got []string
		for _, ev := range evs {
			got = append(got, ev.String("osquery.action"))
		}
		if strings.Join(got, ",") != strings.Join(c.actions, ",") {
			t.Errorf("%s: actions %v, want %v", c.file, got, c.actions)
		}
		if len(evs) > 0 && (evs[0].Fields["host.name"] != "hostname.local" || evs[0].Timestamp.IsZero()) {
			t.Errorf("%s: %+v", c.file, evs[0])
		}
	}
}

func TestBadLines(t *testing.T) {
	good := `{"name":"q","hostIdentifier":"h","unixTime":1700000000,"columns":{"a":1,"b":true,"c":null,"d":[1]},"action":"added"}`
	input := strings.Join([]string{
		good,
		`{"name":"q","columns":{"a":"1"},"action":"added"`, // torn
		"",
		`{"name":"q","unixTime":"x","columns":{},"action":"added"}`,
		`{"unixTime":1,"columns":{},"action":"added"}`,
		`{"name":"q","unixTime":1,"columns":{},"action":"renamed"}`,
		`{"name":"q","calendarTime":"Tue Sep 30 17:37:30 2014","columns":{"x":"y"},"action":"removed"}`,
		`[1,2]`,
		good + ` {}`,
	}, "\n")
	evs, st, err := collect(t, strings.NewReader(input))
	if len(evs) != 2 || st.Lines != 8 || st.Bad != 6 {
		t.Fatalf("%d events, %+v", len(evs), st)
	}
	for _, n := range []string{"line 2:", "line 4:", "line 5:", "line 6:", "line 8:", "line 9:"} {
		if err == nil || !strings.Contains(err.Error(), n) {
			t.Errorf("error does not name %s: %v", n, err)
		}
	}
	if evs[0].Fields["osquery.columns.a"] != "1" || evs[0].Fields["osquery.columns.b"] != "true" ||
		evs[0].Fields["osquery.columns.c"] != "" || evs[0].Fields["osquery.columns.d"] != "[1]" {
		t.Errorf("numerics not kept as strings: %+v", evs[0].Fields)
	}
	if evs[1].Timestamp.Unix() != 1412098650 {
		t.Errorf("calendarTime gave %s", evs[1].Timestamp)
	}
	stop := errors.New("stop")
	if _, err := ParseResultLog(strings.NewReader(good+"\n"+good), func(event.Event) error { return stop }); !errors.Is(err, stop) || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("emit error: %v", err)
	}
}

func TestLongLine(t *testing.T) {
	good := `{"name":"q","unixTime":1,"columns":{"a":"1"},"action":"added"}`
	input := good + "\n" + `{"name":"` + strings.Repeat("x", MaxLogLine) + "\"}\n" + good + "\n"
	evs, st, err := collect(t, strings.NewReader(input))
	if len(evs) != 2 || st.Bad != 1 || err == nil || !strings.Contains(err.Error(), "line 2: longer than") {
		t.Fatalf("%d events %+v %v", len(evs), st, err)
	}
}

func FuzzParseResultLog(f *testing.F) {
	f.Add([]byte(`{"name":"q","hostIdentifier":"h","unixTime":1700000000,"decorations":{"u":"x"},"columns":{"a":"1"},"action":"added"}`))
	f.Add([]byte(`{"name":"p","snapshot":[{"pid":"1"},{"pid":2}],"action":"snapshot","unixTime":"1462228052"}`))
	f.Add([]byte(`{"name":"d","diffResults":{"added":[{"a":"1"}],"removed":[{"a":"2"}]},"calendarTime":"Tue Sep 30 17:37:30 2014"}` + "\n\n{}\n"))
	f.Add([]byte(`{"name":"q","unixTime":1,"columns":{"count(*)":"1","":""},"action":"snapshot"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		st, _ := ParseResultLog(bytes.NewReader(data), func(ev event.Event) error {
			n++
			if err := ev.Validate(); err != nil {
				t.Fatalf("invalid event: %v\n%+v", err, ev)
			}
			return nil
		})
		if st.Events != n || st.Bad > st.Lines {
			t.Fatalf("stats %+v with %d events emitted", st, n)
		}
	})
}
