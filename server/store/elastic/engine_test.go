package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 5, time.UTC)

func ev(id, dataset string, fields map[string]any) event.Event {
	e := event.Event{ID: id, Timestamp: t0, Dataset: dataset, Fields: map[string]any{}}
	for k, v := range fields {
		e.Set(k, v)
	}
	return e
}

func ids(evs []event.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return strings.Join(out, ",")
}

func TestSetupRequests(t *testing.T) {
	f, srv := newFake(t)
	openTest(t, testConfig(srv.URL, ""))
	want := []string{"/_component_template/t-events-mappings", "/_ilm/policy/t-events-endpoint",
		"/_index_template/t-events-endpoint", "/_ilm/policy/t-events-network", "/_index_template/t-events-network",
		"/_ilm/policy/t-events-alert", "/_index_template/t-events-alert", "/t-entities", "/t-deadletters"}
	var got []string
	for _, r := range f.requests("") {
		got = append(got, r.path)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("setup requests %v, want %v", got, want)
	}
	var comp struct {
		Template struct {
			Mappings struct {
				Props map[string]any `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal([]byte(f.requests("/_component_template/t-events-mappings")[0].body), &comp); err != nil {
		t.Fatal(err)
	}
	props := comp.Template.Mappings.Props
	checks := map[string]string{
		"source.ip":        `{"fields":{"keyword":{"ignore_above":8191,"type":"keyword"}},"type":"ip"}`,
		"message":          `{"fields":{"keyword":{"ignore_above":8191,"type":"keyword"}},"type":"text"}`,
		"host.name":        `{"ignore_above":8191,"type":"keyword"}`,
		"source.port":      `{"type":"long"}`,
		"yara.meta":        `{"type":"flattened"}`,
		"lachan.ts_ns":     `{"type":"long"}`,
		"tls.established":  `{"type":"boolean"}`,
		"event.risk_score": `{"type":"double"}`,
	}
	for name, want := range checks {
		var node any = map[string]any{"properties": props}
		for _, part := range strings.Split(name, ".") {
			node = node.(map[string]any)["properties"].(map[string]any)[part]
		}
		b, _ := json.Marshal(node)
		if string(b) != want {
			t.Errorf("mapping of %s: %s, want %s", name, b, want)
		}
	}
	tmpl := f.requests("/_index_template/t-events-network")[0].body
	for _, part := range []string{`"data_stream":{}`, `"index.lifecycle.name":"t-events-network"`, `"index_patterns":["t-events-network"]`, `"composed_of":["t-events-mappings"]`} {
		if !strings.Contains(tmpl, part) {
			t.Errorf("index template lacks %s: %s", part, tmpl)
		}
	}
	if pol := f.requests("/_ilm/policy/t-events-network")[0].body; !strings.Contains(pol, `"min_age":"90d"`) || !strings.Contains(pol, `"max_primary_shard_size":"50gb"`) {
		t.Errorf("ILM policy %s", pol)
	}
}

func TestPutEventsOutcomes(t *testing.T) {
	f, srv := newFake(t)
	f.itemStatus = func(index, id string, attempt int) (int, string) {
		switch {
		case id == "e3" && index == "t-events-network":
			return 400, `{"type":"document_parsing_exception","reason":"[1:93] failed to parse field [network.name] of type [long] in document with id 'e3'. Preview of field's value: 'x'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"x\""}}`
		case id == "e4" && attempt == 1:
			return 429, `{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}`
		}
		return 0, ""
	}
	e := openTest(t, testConfig(srv.URL, ""))
	f.docs["t-events-endpoint/e2"] = "{}"
	evs := []event.Event{
		ev("e1", event.DatasetOsquery, map[string]any{"lachan.unit": "ward-1"}),
		ev("e2", event.DatasetOsquery, nil),
		ev("e3", event.DatasetFlow, map[string]any{"network.name": "x"}),
		ev("e4", event.DatasetAlert, nil),
		ev("e5", event.DatasetFlow, map[string]any{"tls.established": "yes"}),
	}
	fresh, err := e.PutEvents(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(fresh); got != "e1,e4" {
		t.Fatalf("fresh %s, want e1,e4", got)
	}
	bulks := f.requests("/_bulk")
	if len(bulks) != 2 {
		t.Fatalf("%d bulk requests, want 2 (one retry)", len(bulks))
	}
	if !strings.Contains(bulks[0].query, "refresh=wait_for") {
		t.Errorf("bulk query %q", bulks[0].query)
	}
	lines := strings.Split(strings.TrimSuffix(bulks[0].body, "\n"), "\n")
	if len(lines) != 10 {
		t.Fatalf("first bulk has %d lines, want 10:\n%s", len(lines), bulks[0].body)
	}
	if lines[0] != `{"create":{"_index":"t-events-endpoint","_id":"e1"}}` || lines[8] != `{"create":{"_index":"t-deadletters","_id":"e5"}}` {
		t.Errorf("action lines %s / %s", lines[0], lines[8])
	}
	back, err := decodeDoc([]byte(lines[1]))
	if err != nil || back.String("lachan.unit") != "ward-1" || !back.Timestamp.Equal(t0) {
		t.Errorf("document %s read back as %+v, %v", lines[1], back, err)
	}
	if !strings.Contains(lines[1], fmt.Sprintf(`"lachan.ts_ns":%d`, t0.UnixNano())) {
		t.Errorf("document lacks the nanosecond sort key: %s", lines[1])
	}
	var dl deadLetterDoc
	json.Unmarshal([]byte(lines[9]), &dl)
	if dl.Field != "tls.established" || !strings.Contains(dl.Reason, "not a boolean") {
		t.Errorf("dead letter of the mapping check: %+v", dl)
	}
	second := bulks[1].body
	if !strings.Contains(second, `{"create":{"_index":"t-deadletters","_id":"e3"}}`) || !strings.Contains(second, `"field":"network.name"`) ||
		!strings.Contains(second, `{"create":{"_index":"t-events-alert","_id":"e4"}}`) {
		t.Errorf("retry bulk does not hold e3's dead letter and e4:\n%s", second)
	}
}

func TestPutEventsInvalidStoresNothing(t *testing.T) {
	f, srv := newFake(t)
	e := openTest(t, testConfig(srv.URL, ""))
	bad := ev("bad", event.DatasetFlow, nil)
	bad.Timestamp = time.Time{}
	if _, err := e.PutEvents(context.Background(), []event.Event{ev("good", event.DatasetFlow, nil), bad}); err == nil {
		t.Fatal("an invalid event was accepted")
	}
	if n := len(f.requests("/_bulk")); n != 0 {
		t.Fatalf("%d bulk requests for a refused batch", n)
	}
}

func TestPutEventsNoBufferFails(t *testing.T) {
	f, srv := newFake(t)
	e := openTest(t, testConfig(srv.URL, ""))
	f.down.Store(true)
	_, err := e.PutEvents(context.Background(), []event.Event{ev("a", event.DatasetFlow, nil)})
	if err == nil || !errors.Is(err, errUnavailable) {
		t.Fatalf("PutEvents with the cluster away and no buffer: %v", err)
	}
}

// TestBufferDrain: the cluster goes away, writes are buffered on disk and
// acknowledged, the engine is closed and reopened, the cluster comes back,
// and every event is created exactly once.
func TestBufferDrain(t *testing.T) {
	f, srv := newFake(t)
	dir := t.TempDir()
	e := openTest(t, testConfig(srv.URL, dir))
	f.down.Store(true)
	ctx := context.Background()
	batches := [][]string{{"a", "b"}, {"b", "c"}, {"d", "a", "e"}}
	for _, b := range batches {
		var evs []event.Event
		for _, id := range b {
			evs = append(evs, ev(id, event.DatasetFlow, map[string]any{"lachan.unit": "ward-1"}))
		}
		fresh, err := e.PutEvents(ctx, evs)
		if err != nil {
			t.Fatalf("PutEvents while the cluster is away: %v", err)
		}
		if len(fresh) != len(evs) {
			t.Fatalf("buffered batch reported %d fresh, want all %d", len(fresh), len(evs))
		}
	}
	if e.buf.Len() != 3 {
		t.Fatalf("buffer holds %d records, want 3", e.buf.Len())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	f.down.Store(false)
	f.mu.Lock()
	f.itemStatus = func(index, id string, attempt int) (int, string) {
		if id == "c" && attempt == 1 {
			return 503, `{"type":"unavailable_shards_exception","reason":"primary shard is not active"}`
		}
		return 0, ""
	}
	f.mu.Unlock()
	e2 := openTest(t, testConfig(srv.URL, dir))
	deadline := time.Now().Add(10 * time.Second)
	for e2.buf.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e2.buf.Len(); n != 0 {
		t.Fatalf("buffer still holds %d records", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if n := f.created["t-events-network/"+id]; n != 1 {
			t.Errorf("%s created %d times, want once", id, n)
		}
	}
	if len(f.created) != 5 {
		t.Errorf("created %v, want five events", f.created)
	}
}

func TestBufferKeepsOrderBehindBacklog(t *testing.T) {
	f, srv := newFake(t)
	e := openTest(t, testConfig(srv.URL, t.TempDir()))
	f.down.Store(true)
	ctx := context.Background()
	first := ev("x", event.DatasetFlow, map[string]any{"label": "1"})
	if _, err := e.PutEvents(ctx, []event.Event{first}); err != nil {
		t.Fatal(err)
	}
	f.down.Store(false)
	// With a backlog, a new copy of x must queue behind the first.
	second := ev("x", event.DatasetFlow, map[string]any{"label": "2"})
	if _, err := e.PutEvents(ctx, []event.Event{second}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.buf.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if doc := f.docs["t-events-network/x"]; !strings.Contains(doc, `"label":"1"`) {
		t.Fatalf("stored %s, want the first copy", doc)
	}
}

func TestEntities(t *testing.T) {
	f, srv := newFake(t)
	e := openTest(t, testConfig(srv.URL, ""))
	ctx := context.Background()
	steps := []struct {
		name    string
		op      string
		doc     string
		version uint64
		wantVer uint64
		wantErr error
	}{
		{"get absent", "get", "", 0, 0, store.ErrNotFound},
		{"update absent", "put", "x", 3, 0, store.ErrConflict},
		{"create", "put", "one", 0, 1, nil},
		{"create again", "put", "again", 0, 0, store.ErrConflict},
		{"update", "put", "two", 1, 2, nil},
		{"stale", "put", "stale", 1, 0, store.ErrConflict},
		{"read", "get", "two", 0, 2, nil},
		{"delete", "delete", "", 0, 0, nil},
		{"delete absent", "delete", "", 0, 0, nil},
		{"read deleted", "get", "", 0, 0, store.ErrNotFound},
	}
	for _, st := range steps {
		var err error
		var ver uint64
		var doc []byte
		switch st.op {
		case "get":
			doc, ver, err = e.GetEntity(ctx, "incident", "inc/1")
		case "put":
			ver, err = e.PutEntity(ctx, "incident", "inc/1", []byte(st.doc), st.version)
		case "delete":
			err = e.DeleteEntity(ctx, "incident", "inc/1")
		}
		if st.wantErr != nil && !errors.Is(err, st.wantErr) || st.wantErr == nil && err != nil {
			t.Fatalf("%s: err %v, want %v", st.name, err, st.wantErr)
		}
		if st.wantErr == nil && st.op != "delete" && ver != st.wantVer {
			t.Fatalf("%s: version %d, want %d", st.name, ver, st.wantVer)
		}
		if st.op == "get" && st.wantErr == nil && string(doc) != st.doc {
			t.Fatalf("%s: doc %q, want %q", st.name, doc, st.doc)
		}
	}
	var cas []recorded
	for _, r := range f.requests("/incident/inc/1") {
		if r.method == "PUT" && strings.Contains(r.path, "/_doc/") {
			cas = append(cas, r)
		}
	}
	if len(cas) != 1 || !strings.Contains(cas[0].query, "if_primary_term=1") || !strings.Contains(cas[0].query, "if_seq_no=") {
		t.Fatalf("updates %+v, want one with if_seq_no and if_primary_term", cas)
	}
}

func TestCloseRefuses(t *testing.T) {
	_, srv := newFake(t)
	e := openTest(t, testConfig(srv.URL, t.TempDir()))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.PutEvents(context.Background(), nil); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("PutEvents after Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestDocRoundTrip(t *testing.T) {
	in := ev("rt", event.DatasetYARA, map[string]any{
		"message": "line\n\"quoted\" \\ \x01 \u2028 tiếng Việt \xff", "process.pid": int64(-3), "event.risk_score": 1e-7,
		"big": 1e21, "ok": true, "tags": []string{"a", "b"}, "yara.meta": map[string]any{"n": int64(1), "s": "x"},
	})
	enc := &encoder{names: names{"t"}}
	line, err := enc.appendDoc(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeDoc(bytes.TrimSpace(line))
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	in.Fields["message"] = "line\n\"quoted\" \\ \x01 \u2028 tiếng Việt \ufffd"
	want, _ := json.Marshal(in)
	got, _ := json.Marshal(out)
	if !bytes.Equal(got, want) {
		t.Fatalf("round trip\n got %s\nwant %s", got, want)
	}
}
