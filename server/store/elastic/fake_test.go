package elastic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"lachan/internal/logging"
)

// fakeES plays an Elasticsearch 8 node for the calls the engine makes,
// answering in the forms the Elasticsearch reference documents. Bulk
// creates and entity documents are kept; searches are answered by
// onSearch when set, else with no hits.
type fakeES struct {
	t    *testing.T
	down atomic.Bool

	mu       sync.Mutex
	reqs     []recorded
	docs     map[string]string // index/_id → source
	created  map[string]int    // index/_id → successful creates
	entities map[string]*fakeDoc
	seq      int64
	// itemStatus, when set, may override a bulk item: it returns a status
	// and error object (0 to take the normal path).
	itemStatus func(index, id string, attempt int) (int, string)
	attempts   map[string]int
	onSearch   func(path string, body map[string]any) string
}

type fakeDoc struct {
	seq    int64
	source string
}

type recorded struct {
	method, path, query, body string
}

func newFake(t *testing.T) (*fakeES, *httptest.Server) {
	f := &fakeES{t: t, docs: map[string]string{}, created: map[string]int{}, entities: map[string]*fakeDoc{}, attempts: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		// An unreachable node: the connection drops without an answer.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, string(body)})
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	status, answer := f.answer(r, body)
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

func (f *fakeES) answer(r *http.Request, body []byte) (int, string) {
	p := r.URL.Path
	switch {
	case p == "/_bulk":
		return 200, f.bulk(body)
	case strings.HasSuffix(p, "/_search"):
		var req map[string]any
		json.Unmarshal(body, &req)
		if f.onSearch != nil {
			return 200, f.onSearch(p, req)
		}
		return 200, `{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"max_score":null,"hits":[]}}`
	case strings.Contains(p, "-entities/"):
		return f.entity(r, body)
	case r.Method == http.MethodPut:
		return 200, `{"acknowledged":true}`
	}
	return 404, `{"error":{"root_cause":[],"type":"resource_not_found_exception","reason":"no handler"},"status":404}`
}

func (f *fakeES) bulk(body []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 64<<20)
	var items []string
	errs := false
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			f.t.Errorf("bulk action line %q: %v", sc.Text(), err)
			return `{}`
		}
		a, ok := action["create"]
		if !ok {
			f.t.Errorf("bulk action %q is not create", sc.Text())
		}
		if !sc.Scan() {
			f.t.Error("bulk action without a document")
		}
		doc := sc.Text()
		if !json.Valid([]byte(doc)) {
			f.t.Errorf("bulk document is not JSON: %q", doc)
		}
		key := a.Index + "/" + a.ID
		f.attempts[key]++
		if f.itemStatus != nil {
			if st, e := f.itemStatus(a.Index, a.ID, f.attempts[key]); st != 0 {
				errs = true
				items = append(items, fmt.Sprintf(`{"create":{"_index":%q,"_id":%q,"status":%d,"error":%s}}`, a.Index, a.ID, st, e))
				continue
			}
		}
		if _, dup := f.docs[key]; dup {
			errs = true
			items = append(items, fmt.Sprintf(`{"create":{"_index":%q,"_id":%q,"status":409,"error":{"type":"version_conflict_engine_exception","reason":"[%s]: version conflict, document already exists (current version [1])","index_uuid":"aAsFqTI0Tc2W0LCWgPNrOA","shard":"0","index":%q}}}`, a.Index, a.ID, a.ID, a.Index))
			continue
		}
		f.docs[key] = doc
		f.created[key]++
		f.seq++
		items = append(items, fmt.Sprintf(`{"create":{"_index":%q,"_id":%q,"_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":%d,"_primary_term":1,"status":201}}`, a.Index, a.ID, f.seq))
	}
	return fmt.Sprintf(`{"took":30,"errors":%t,"items":[%s]}`, errs, strings.Join(items, ","))
}

// entity plays the document APIs on the entities index.
func (f *fakeES) entity(r *http.Request, body []byte) (int, string) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) != 3 {
		return 400, `{"error":{"type":"illegal_argument_exception","reason":"bad path"},"status":400}`
	}
	index, api, id := parts[0], parts[1], parts[2]
	d := f.entities[id]
	conflict := func(reason string) (int, string) {
		return 409, fmt.Sprintf(`{"error":{"root_cause":[{"type":"version_conflict_engine_exception","reason":%q}],"type":"version_conflict_engine_exception","reason":%q,"index_uuid":"x","shard":"0","index":%q},"status":409}`, reason, reason, index)
	}
	switch {
	case r.Method == http.MethodGet:
		if d == nil {
			return 404, fmt.Sprintf(`{"_index":%q,"_id":%q,"found":false}`, index, id)
		}
		return 200, fmt.Sprintf(`{"_index":%q,"_id":%q,"_version":%d,"_seq_no":%d,"_primary_term":1,"found":true,"_source":%s}`, index, id, d.seq+1, d.seq, d.source)
	case r.Method == http.MethodDelete:
		if d == nil {
			return 404, fmt.Sprintf(`{"_index":%q,"_id":%q,"_version":1,"result":"not_found","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":%d,"_primary_term":1}`, index, id, f.seq)
		}
		delete(f.entities, id)
		f.seq++
		return 200, fmt.Sprintf(`{"_index":%q,"_id":%q,"_version":2,"result":"deleted","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":%d,"_primary_term":1}`, index, id, f.seq)
	case api == "_create":
		if d != nil {
			return conflict(fmt.Sprintf("[%s]: version conflict, document already exists (current version [1])", id))
		}
	case api == "_doc":
		want := r.URL.Query().Get("if_seq_no")
		if d == nil || want != fmt.Sprint(d.seq) || r.URL.Query().Get("if_primary_term") != "1" {
			return conflict(fmt.Sprintf("[%s]: version conflict, required seqNo [%s], primary term [1]", id, want))
		}
	}
	f.seq++
	f.entities[id] = &fakeDoc{seq: f.seq, source: string(body)}
	return 201, fmt.Sprintf(`{"_index":%q,"_id":%q,"_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":%d,"_primary_term":1}`, index, id, f.seq)
}

// requests returns the recorded requests whose path ends with suffix.
func (f *fakeES) requests(suffix string) []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, r := range f.reqs {
		if strings.HasSuffix(r.path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

func testConfig(url, bufDir string) Config {
	cfg := DefaultConfig()
	cfg.Addresses = []string{url}
	cfg.IndexPrefix = "t"
	cfg.BufferDir = bufDir
	cfg.BufferMaxBytes = 16 << 20
	cfg.MaxAttempts = 3
	cfg.BackoffMin, cfg.BackoffMax = 1e6, 2e6
	cfg.RequestTimeout = 5e9
	return cfg
}

func openTest(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := Open(context.Background(), cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}
