package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"lachan/internal/bundle"
	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/rules"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/pipeline"
	"lachan/server/pki"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/server/unit"
)

const secret = "ward-secret-0123456789"

type env struct {
	t      *testing.T
	url    string
	st     store.Store
	ca     *x509.CertPool
	agent  *http.Client // with the agent's client certificate
	anon   *http.Client // trusts the CA, no certificate
	admin  string
	tokens *Tokens
	// bundleKey is what the server says at enrollment it signs with.
	bundleKey ed25519.PublicKey
	units     *unit.Registry
	fleet     *fleet.Fleet
	srv       *Server
}

func newEnv(t *testing.T, with ...func(*Deps)) *env {
	t.Helper()
	return newEnvWith(t, DefaultConfig(), with...)
}

func newEnvWith(t *testing.T, cfg Config, with ...func(*Deps)) *env {
	t.Helper()
	ctx := context.Background()
	st := embeddedtest.Open(t)
	ca, err := pki.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	units := unit.NewRegistry(st)
	if err := units.Apply(ctx, []unit.Spec{{ID: "hcm", Name: "HCM"}, {ID: "ward-1", Name: "Ward 1", Parent: "hcm", EnrollSecret: secret, Networks: []string{"10.9.0.0/16"}}, {ID: "ward-2", Name: "Ward 2", Parent: "hcm"}}); err != nil {
		t.Fatal(err)
	}
	tokens := NewTokens(st, units)
	admin, err := tokens.Issue(ctx, Token{Name: "admin", Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	fl := fleet.New(st, nil).WithNetworks(units)
	inc := incident.NewManager(st, incident.DefaultConfig(), nil)
	det := pipeline.DetectorFunc(func(ev event.Event) []event.Event { return nil })
	b, err := bundle.FromFS(rules.FS, "yara", ".yar")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := bundle.Sign(b, ca.BundleSigner())
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{Store: st, Units: units, Fleet: fl, Incidents: inc, PKI: ca, Tokens: tokens,
		Rules: signed, RulesVersion: b.Version,
		Pipeline: pipeline.New(st, fl, inc, det, logging.Discard()), Log: logging.Discard()}
	for _, w := range with {
		w(&deps)
	}
	srv := New(cfg, deps)
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = ca.ServerTLS()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CAPEM())
	e := &env{t: t, url: ts.URL, st: st, ca: pool, admin: admin, tokens: tokens, bundleKey: ca.BundlePublicKey(), units: units, fleet: fl, srv: srv}
	e.anon = e.client(nil)
	return e
}

func (e *env) client(cert *tls.Certificate) *http.Client {
	tc := &tls.Config{RootCAs: e.ca}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
}

func (e *env) enroll() {
	e.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "pc"}}, key)
	req := wire.EnrollRequest{Secret: secret, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
		Host: wire.Host{Name: "pc-01", IPs: []string{"10.9.8.7"}}}
	var resp wire.EnrollResponse
	if code := e.post(e.anon, wire.PathEnroll, jsonBody(req), nil, &resp); code != 200 {
		e.t.Fatalf("enroll: %d", code)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	pair, err := tls.X509KeyPair([]byte(resp.Cert), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		e.t.Fatal(err)
	}
	e.agent = e.client(&pair)
	if !bytes.Equal(resp.BundleKey, e.bundleKey) {
		e.t.Fatal("enrollment did not hand out the bundle key")
	}
}

func jsonBody(v any) []byte { b, _ := json.Marshal(v); return b }

func (e *env) post(c *http.Client, path string, body []byte, hdr map[string]string, out any) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

func (e *env) get(token, path string, out any) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.anon.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (e *env) stored() int {
	e.t.Helper()
	page, err := e.st.SearchEvents(context.Background(), store.Query{Limit: store.MaxLimit})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, ev := range page.Events {
		if ev.Dataset != fleet.DatasetAgent { // the agents' history, written by the server
			n++
		}
	}
	return n
}

func findings(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		ev := event.New(event.DatasetYARA, time.Now())
		ev.Set("file.path", fmt.Sprintf("/tmp/f%d", i))
		out[i], _ = json.Marshal(ev)
	}
	return out
}

func gz(lines [][]byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Join(lines, []byte("\n")))
	zw.Close()
	return buf.Bytes()
}

var gzipHdr = map[string]string{"Content-Encoding": "gzip", "Content-Type": wire.ContentTypeNDJSON}

func TestIngestRefusesBadInputAndStoresNothing(t *testing.T) {
	e := newEnv(t)
	e.enroll()
	good := findings(3)
	noise := make([]byte, wire.MaxIngestBodyBytes+1024)
	rand.Read(noise)
	cases := []struct {
		name   string
		client *http.Client
		body   []byte
		hdr    map[string]string
		code   int
		line   int
		field  string
	}{
		{"no certificate", e.anon, gz(good), gzipHdr, 401, 0, ""},
		{"malformed line", e.agent, gz([][]byte{good[0], []byte(`{"@timestamp":`), good[1]}), gzipHdr, 400, 2, ""},
		{"bad field", e.agent, gz([][]byte{good[0], []byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"x1","event.dataset":"a.b","source.ip":"nope"}`)}), gzipHdr, 400, 2, "source.ip"},
		{"not gzip", e.agent, []byte("plain"), gzipHdr, 400, 0, ""},
		{"too large", e.agent, noise, map[string]string{"Content-Type": wire.ContentTypeNDJSON}, 413, 0, ""},
		{"too many events", e.agent, gz(findings(wire.MaxIngestEvents + 1)), gzipHdr, 413, 0, ""},
		{"wrong type", e.agent, gz(good), map[string]string{"Content-Encoding": "gzip", "Content-Type": "text/html"}, 415, 0, ""},
		{"empty", e.agent, gz(nil), gzipHdr, 400, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var we wire.Error
			code := e.post(c.client, wire.PathIngest, c.body, c.hdr, &we)
			if code != c.code || we.Error == "" || we.Line != c.line || we.Field != c.field {
				t.Fatalf("got %d %+v, want %d line %d field %q", code, we, c.code, c.line, c.field)
			}
			if n := e.stored(); n != 0 {
				t.Fatalf("%d events stored after a refused batch", n)
			}
		})
	}
}

func TestIngestIsIdempotent(t *testing.T) {
	e := newEnv(t)
	e.enroll()
	batch := gz(findings(5))
	for i, want := range []wire.IngestResponse{{Received: 5, Stored: 5}, {Received: 5, Duplicates: 5}} {
		var got wire.IngestResponse
		if code := e.post(e.agent, wire.PathIngest, batch, gzipHdr, &got); code != 200 || got != want {
			t.Fatalf("send %d: %d %+v, want %+v", i, code, got, want)
		}
	}
	page, _ := e.st.SearchEvents(context.Background(), store.Query{})
	for _, ev := range page.Events {
		if ev.String("lachan.unit") != "ward-1" || ev.String("host.name") != "pc-01" || ev.String("agent.id") == "" {
			t.Fatalf("identity not stamped from enrollment: %v", ev.Fields)
		}
	}
}

func TestOperatorAuthAndScope(t *testing.T) {
	e := newEnv(t)
	e.enroll()
	e.post(e.agent, wire.PathIngest, gz(findings(2)), gzipHdr, nil)
	ctx := context.Background()
	other, err := e.tokens.Issue(ctx, Token{Name: "ward2", Role: RoleResponder, Unit: "ward-2"})
	if err != nil {
		t.Fatal(err)
	}
	own, _ := e.tokens.Issue(ctx, Token{Name: "ward1", Role: RoleResponder, Unit: "ward-1"})
	city, _ := e.tokens.Issue(ctx, Token{Name: "city", Role: RoleResponder, Unit: "hcm"})
	sensor, _ := e.tokens.Issue(ctx, Token{Name: "sensor", Role: RoleSensor})
	if code := e.get("", wire.PathEvents, nil); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code := e.get("lct_wrong", wire.PathEvents, nil); code != 401 {
		t.Fatalf("bad token: %d", code)
	}
	if code := e.get(sensor, wire.PathEvents, nil); code != 403 {
		t.Fatalf("sensor reading events: %d", code)
	}
	for _, c := range []struct {
		tok  string
		want int
	}{{e.admin, 2}, {own, 2}, {city, 2}, {other, 0}} {
		var page EventsPage
		if code := e.get(c.tok, wire.PathEvents+"?dataset="+event.DatasetYARA, &page); code != 200 || len(page.Events) != c.want {
			t.Errorf("token %s…: %d, %d events, want %d", c.tok[:8], code, len(page.Events), c.want)
		}
		var agents struct{ Agents []fleet.Agent }
		e.get(c.tok, wire.PathAgents, &agents)
		if (len(agents.Agents) > 0) != (c.want > 0) {
			t.Errorf("token %s…: sees %d agents", c.tok[:8], len(agents.Agents))
		}
	}
	flow := event.New(event.DatasetFlow, time.Now())
	flow.Set("source.ip", "10.9.8.7")
	fb, _ := json.Marshal(flow)
	req := map[string]string{"Content-Encoding": "gzip", "Content-Type": wire.ContentTypeNDJSON, "Authorization": "Bearer " + sensor}
	var r wire.IngestResponse
	if code := e.post(e.anon, wire.PathNetworkIngest, gz([][]byte{fb}), req, &r); code != 200 || r.Stored != 1 {
		t.Fatalf("network ingest: %d %+v", code, r)
	}
	got, _ := e.st.GetEvents(ctx, []string{flow.ID})
	if len(got) != 1 || got[0].String("lachan.unit") != "ward-1" {
		t.Fatalf("flow not tied to the agent by address: %+v", got)
	}
	var we wire.Error
	if code := e.post(e.anon, wire.PathNetworkIngest, gz(findings(1)), req, &we); code != 400 || !strings.Contains(we.Error, "not a network record") {
		t.Fatalf("non-network record through network ingest: %d %+v", code, we)
	}
	// Only sensor tokens speak for the network, not even an admin's.
	req["Authorization"] = "Bearer " + e.admin
	if code := e.post(e.anon, wire.PathNetworkIngest, gz([][]byte{fb}), req, &we); code != 403 || !strings.Contains(we.Error, "sensor tokens only") {
		t.Fatalf("network records with an admin token: %d %+v", code, we)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	for _, l := range findings(2) {
		f.Add(l)
	}
	f.Add([]byte("{}\n{\"@timestamp\":1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := DecodeBatch(data)
		if err != nil {
			return
		}
		for _, ev := range evs {
			if err := ev.Validate(); err != nil {
				t.Fatalf("decoded an invalid event: %v", err)
			}
		}
	})
}

func TestRuleBundleNeedsAnAgentAndVerifies(t *testing.T) {
	e := newEnv(t)
	e.enroll()
	for _, c := range []struct {
		client *http.Client
		code   int
	}{{e.anon, 401}, {e.agent, 200}} {
		resp, err := c.client.Get(e.url + wire.PathRules)
		if err != nil {
			t.Fatal(err)
		}
		var s bundle.Signed
		json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Fatalf("GET rules: %d, want %d", resp.StatusCode, c.code)
		}
		if c.code == 200 {
			b, err := bundle.Verify(s, e.bundleKey)
			if err != nil || len(b.Files) == 0 {
				t.Fatalf("bundle: %v, %d files", err, len(b.Files))
			}
		}
	}
}

func TestHuntingQueryParameter(t *testing.T) {
	e := newEnv(t)
	e.enroll()
	e.post(e.agent, wire.PathIngest, gz(findings(3)), gzipHdr, nil)
	var page EventsPage
	if code := e.get(e.admin, wire.PathEvents+"?q="+url.QueryEscape(`file.path:/tmp/f1 or file.path:"/tmp/f2"`), &page); code != 200 || len(page.Events) != 2 {
		t.Fatalf("query: %d, %d events", code, len(page.Events))
	}
	var we wire.Error
	if code := e.get(e.admin, wire.PathEvents+"?q="+url.QueryEscape(`(file.path:x`), &we); code != 400 || !strings.Contains(we.Error, "column") {
		t.Fatalf("bad query: %d %+v", code, we)
	}
	// A filter never widens a responder's scope.
	other, _ := e.tokens.Issue(context.Background(), Token{Name: "w2", Role: RoleResponder, Unit: "ward-2"})
	if code := e.get(other, wire.PathEvents+"?q="+url.QueryEscape(`lachan.unit:ward-1`), &page); code != 200 || len(page.Events) != 0 {
		t.Fatalf("scoped query: %d, %d events", code, len(page.Events))
	}
}
