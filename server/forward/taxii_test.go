package forward

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lachan/server/incident"
	"lachan/server/store"
)

const (
	wardToken  = "ward-token-0123456789abcdef"
	strayToken = "stray-token-0123456789abcdef"
)

type tier struct {
	st      store.Store
	inc     *incident.Manager
	srv     *httptest.Server
	caFile  string
	cityKey ed25519.PrivateKey
}

func sha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// newCity starts a TAXII receiver on loopback with the ward registered.
// A request with X-Test-Operator acts as that operator (the API sets
// this from an operator token in the real server).
func newCity(t *testing.T, wardPub ed25519.PublicKey) *tier {
	t.Helper()
	c := &tier{st: openStore(t, t.TempDir()), cityKey: testKey(t, 9)}
	t.Cleanup(func() { c.st.Close() })
	c.inc = incident.NewManager(c.st, incident.DefaultConfig(), nil)
	rcv, err := NewReceiver([]Sender{{Name: "phuong-ben-thanh", Unit: "hcm.phuong-ben-thanh", PublicKey: FormatPublicKey(wardPub), TokenSHA256: sha(wardToken)},
		{Name: "phuong-sai-gon", Unit: "hcm.phuong-sai-gon", PublicKey: FormatPublicKey(testKey(t, 5).Public().(ed25519.PublicKey)), TokenSHA256: sha(strayToken)}},
		c.st, c.inc, "hcm", c.cityKey, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op := r.Header.Get("X-Test-Operator"); op != "" {
			r = r.WithContext(WithOperator(r.Context(), Operator{Name: op, Role: op}))
		}
		rcv.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	c.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(c.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *tier) client(t *testing.T, token, name string, key ed25519.PrivateKey) *Client {
	t.Helper()
	cfg := DefaultConfig().Upstream
	cfg.URL, cfg.CAFile, cfg.Token = c.srv.URL, c.caFile, token
	cl, err := NewClient(cfg, name, key)
	if err != nil {
		t.Fatal(err)
	}
	cl.pollWait = 0
	return cl
}

// publish posts indicators to the tier's indicators collection as an
// administrator.
func (c *tier) publish(t *testing.T, objs ...Object) {
	t.Helper()
	body, _ := Encode(Envelope{Objects: objs})
	req, _ := http.NewRequest(http.MethodPost, c.srv.URL+APIRootPath+"collections/"+indicatorsID+"/objects/", bytes.NewReader(body))
	req.Header.Set("Content-Type", MediaType)
	req.Header.Set("X-Test-Operator", "admin")
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("publish: status %d", resp.StatusCode)
	}
}

// stored counts what the receiver holds.
func (c *tier) stored(t *testing.T) int {
	n := 0
	for _, k := range []string{KindObject, KindStatus, store.KindIncident} {
		es, err := c.st.ListEntities(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		n += len(es)
	}
	return n
}

func wardBundle(t *testing.T, rev uint64) Bundle {
	inc, evs := sampleIncident()
	inc.Updated = inc.Updated.Add(timeStep * time_(rev))
	return IncidentBundle(inc, evs, rev, inc.Updated, Reporter{Sender: "phuong-ben-thanh", Unit: "phuong-ben-thanh", UnitName: "Phường Bến Thành"}, testMasker(t).Session())
}

func TestClientDeliversToReceiver(t *testing.T) {
	ctx := context.Background()
	wardKey := testKey(t, 1)
	city := newCity(t, wardKey.Public().(ed25519.PublicKey))
	cl := city.client(t, wardToken, "phuong-ben-thanh", wardKey)
	for _, rev := range []uint64{1, 1, 2} {
		rc, err := cl.Send(ctx, wardBundle(t, rev))
		if err != nil {
			t.Fatalf("revision %d: %v", rev, err)
		}
		if rc.Status != "complete" || rc.Failures != 0 || rc.HTTPStatus != 202 || rc.Successes == 0 {
			t.Fatalf("receipt %+v", rc)
		}
	}
	incs, err := city.inc.List(ctx, nil)
	if err != nil || len(incs) != 1 {
		t.Fatalf("city has %d incidents (%v), want 1", len(incs), err)
	}
	got := incs[0]
	if got.Unit != "hcm.phuong-ben-thanh" || got.Severity != "high" || got.AlertCount != 2 {
		t.Errorf("filed as %+v", got)
	}
	if !strings.Contains(got.Title, "phuong-ben-thanh") || strings.Contains(got.Title, "Nguyễn") || !strings.Contains(got.Title, "person-") {
		t.Errorf("title %q: want the sender named and the person masked", got.Title)
	}
	if want := wardBundle(t, 2).Objects[1].String("modified"); Timestamp(got.Updated) != want {
		t.Errorf("city holds revision modified %s, want the later %s", Timestamp(got.Updated), want)
	}
	// An older revision arriving late changes nothing.
	if _, err := cl.Send(ctx, wardBundle(t, 1)); err != nil {
		t.Fatal(err)
	}
	if again, _ := city.inc.Get(ctx, got.ID); !again.Updated.Equal(got.Updated) {
		t.Error("a late older revision overwrote a newer one")
	}
}

func TestReceiverRefusesAndStoresNothing(t *testing.T) {
	wardKey := testKey(t, 1)
	city := newCity(t, wardKey.Public().(ed25519.PublicKey))
	body, _ := Encode(Envelope{Objects: wardBundle(t, 1).Objects})
	tampered := bytes.Replace(body, []byte(`"x_lachan_severity":"high"`), []byte(`"x_lachan_severity":"low" `), 1)
	malformed, _ := Encode(Envelope{Objects: append(wardBundle(t, 1).Objects, Object{"type": "indicator", "id": "indicator--2c790cbc-81e8-5cba-aa6d-625c358d0333", "spec_version": "2.1"})})
	coll := APIRootPath + "collections/" + incidentsID + "/objects/"
	cases := []struct {
		name, token, sig string
		body             []byte
		status           int
		reason           string
	}{
		{"tampered", wardToken, Sign(body, wardKey, "phuong-ben-thanh"), tampered, 401, "signature does not verify"},
		{"unsigned", wardToken, "", body, 401, "unsigned bundle"},
		{"unknown token", "nobody-knows-this-token", Sign(body, wardKey, "phuong-ben-thanh"), body, 403, "unknown sender"},
		{"no credentials", "", Sign(body, wardKey, "phuong-ben-thanh"), body, 401, "unauthenticated"},
		{"unregistered key", wardToken, Sign(body, testKey(t, 7), "quan-99"), body, 403, "not registered"},
		{"signed as another sender", strayToken, Sign(body, wardKey, "phuong-ben-thanh"), body, 403, "signed as"},
		{"malformed object", wardToken, Sign(malformed, wardKey, "phuong-ben-thanh"), malformed, 422, "property pattern: required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, city.srv.URL+coll, bytes.NewReader(c.body))
			req.Header.Set("Content-Type", MediaType)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			if c.sig != "" {
				req.Header.Set(SignatureHeader, c.sig)
			}
			resp, err := city.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !strings.Contains(buf.String(), c.reason) {
				t.Errorf("answer %d %s, want %d naming %q", resp.StatusCode, buf.String(), c.status, c.reason)
			}
			if n := city.stored(t); n != 0 {
				t.Errorf("%d records stored for a refused request", n)
			}
		})
	}
}

func TestIndicatorsFlowDown(t *testing.T) {
	ctx := context.Background()
	wardKey := testKey(t, 1)
	city := newCity(t, wardKey.Public().(ed25519.PublicKey))
	ind := Object{"type": "indicator", "spec_version": "2.1", "id": "indicator--2c790cbc-81e8-5cba-aa6d-625c358d0333",
		"created": "2025-06-01T00:00:00.000Z", "modified": "2025-06-01T00:00:00.000Z", "valid_from": "2025-06-01T00:00:00.000Z",
		"pattern_type": "stix", "pattern": "[domain-name:value = 'evil.example']"}
	city.publish(t, ind)
	cl := city.client(t, wardToken, "phuong-ben-thanh", wardKey)
	cityPub := city.cityKey.Public().(ed25519.PublicKey)
	sink := &fakeSink{}
	ward := openStore(t, t.TempDir())
	defer ward.Close()
	p := NewPoller(cl, cityPub, ward, sink, nil)
	for i, want := range []int{1, 0} {
		n, err := p.PollOnce(ctx)
		if err != nil || n != want {
			t.Fatalf("poll %d: %d, %v; want %d", i, n, err, want)
		}
	}
	if len(sink.bundles) != 1 || !strings.Contains(sink.bundles[0], "evil.example") {
		t.Fatalf("sink got %v", sink.bundles)
	}
	// A poller trusting another key refuses the answer.
	if _, _, _, err := cl.Poll(ctx, PollCursor{}, testKey(t, 4).Public().(ed25519.PublicKey)); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("poll with the wrong key: %v", err)
	}
}

// TestIndicatorsPaged publishes more indicators in one request than one
// answer holds (so that they share their date added across the page
// boundary), then more later, and checks that the poller takes every one
// exactly once, page by page, and that a page mark the upstream refuses
// sends it back to its last complete poll.
func TestIndicatorsPaged(t *testing.T) {
	ctx := context.Background()
	wardKey := testKey(t, 1)
	city := newCity(t, wardKey.Public().(ed25519.PublicKey))
	publish := func(from, n int) {
		t.Helper()
		objs := make([]Object, 0, n)
		for i := from; i < from+n; i++ {
			objs = append(objs, Object{"type": "indicator", "spec_version": "2.1",
				"id":      ID("indicator", "paged", strconv.Itoa(i)),
				"created": "2025-06-01T00:00:00.000Z", "modified": "2025-06-01T00:00:00.000Z", "valid_from": "2025-06-01T00:00:00.000Z",
				"pattern_type": "stix", "pattern": fmt.Sprintf("[domain-name:value = 'evil-%d.example']", i)})
		}
		city.publish(t, objs...)
	}
	publish(0, PageSize+PageSize/2)
	cl := city.client(t, wardToken, "phuong-ben-thanh", wardKey)
	cityPub := city.cityKey.Public().(ed25519.PublicKey)
	sink := &fakeSink{}
	ward := openStore(t, t.TempDir())
	defer ward.Close()
	p := NewPoller(cl, cityPub, ward, sink, nil)
	seen := func() map[string]int {
		got := map[string]int{}
		for _, b := range sink.bundles {
			objs, err := ParseEnvelope([]byte(b))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				got[o.String("id")]++
			}
		}
		return got
	}
	if n, err := p.PollOnce(ctx); err != nil || n != PageSize+PageSize/2 {
		t.Fatalf("first poll: %d, %v", n, err)
	}
	if len(sink.bundles) != 2 {
		t.Errorf("%d pages handed to the sink, want 2", len(sink.bundles))
	}
	publish(PageSize+PageSize/2, 10)
	if n, err := p.PollOnce(ctx); err != nil || n != 10 {
		t.Fatalf("second poll: %d, %v", n, err)
	}
	got := seen()
	if len(got) != PageSize+PageSize/2+10 {
		t.Errorf("%d distinct indicators received, want %d", len(got), PageSize+PageSize/2+10)
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s received %d times", id, n)
		}
	}
	// A page mark the upstream does not take: back to the last complete poll.
	doc, ver, err := ward.GetEntity(ctx, KindState, cursorIndicators)
	if err != nil {
		t.Fatal(err)
	}
	var cur PollCursor
	if err := json.Unmarshal(doc, &cur); err != nil || cur.AddedAfter == "" || cur.Next != "" {
		t.Fatalf("cursor after complete polls: %s, %v", doc, err)
	}
	cur.Next = "not-a-mark"
	doc, _ = json.Marshal(cur)
	if _, err := ward.PutEntity(ctx, KindState, cursorIndicators, doc, ver); err != nil {
		t.Fatal(err)
	}
	if n, err := p.PollOnce(ctx); err != nil || n != 0 {
		t.Fatalf("poll with a refused mark: %d, %v", n, err)
	}
	// limit pages the same way for any client.
	req, _ := http.NewRequest(http.MethodGet, city.srv.URL+APIRootPath+"collections/"+indicatorsID+"/objects/?limit=0", nil)
	req.Header.Set("X-Test-Operator", "admin")
	resp, err := city.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("limit=0: status %d, want 400", resp.StatusCode)
	}
}

type fakeSink struct{ bundles []string }

func (f *fakeSink) AddSTIX(_ context.Context, b []byte, _ string) (int, error) {
	objs, err := ParseEnvelope(b)
	f.bundles = append(f.bundles, string(b))
	return len(objs), err
}

// FuzzReceiverPost sends signed fuzzed bodies through the receiver: every
// answer is an acceptance or a refusal naming its reason, never a crash or
// an internal error.
func FuzzReceiverPost(f *testing.F) {
	wardKey := testKey(f, 1)
	dir, err := os.MkdirTemp("", "fuzz-receiver-")
	if err != nil {
		f.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st := openStoreTB(f, dir)
	defer st.Close()
	rcv, err := NewReceiver([]Sender{{Name: "w", Unit: "u", PublicKey: FormatPublicKey(wardKey.Public().(ed25519.PublicKey)), TokenSHA256: sha(wardToken)}},
		st, incident.NewManager(st, incident.DefaultConfig(), nil), "c", testKey(f, 2), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	inc, evs := sampleIncident()
	good, _ := Encode(Envelope{Objects: IncidentBundle(inc, evs, 1, inc.Updated, Reporter{Sender: "w", Unit: "u"}, testMasker(f).Session()).Objects})
	f.Add(good)
	f.Add([]byte(`{"objects":[{"type":"incident","spec_version":"2.1","id":"incident--2c790cbc-81e8-5cba-aa6d-625c358d0333","created":"2025-06-02T08:30:00Z","modified":"2025-06-02T08:30:00Z","name":"x","x_lachan_alert_count":"many"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, APIRootPath+"collections/"+incidentsID+"/objects/", bytes.NewReader(body))
		req.Header.Set("Content-Type", MediaType)
		req.Header.Set("Authorization", "Bearer "+wardToken)
		req.Header.Set(SignatureHeader, Sign(body, wardKey, "w"))
		w := httptest.NewRecorder()
		rcv.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted && (w.Code < 400 || w.Code >= 500) {
			t.Fatalf("answer %d: %s", w.Code, w.Body.String())
		}
	})
}
