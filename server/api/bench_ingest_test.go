package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
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
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/pipeline"
	"lachan/server/pki"
	"lachan/server/store"
	"lachan/server/store/embedded"
	"lachan/server/unit"
)

// Ingest beside queries: the figures of docs/benchmarks.md.
const (
	// benchStored is how many events the store holds before the run.
	benchStored = 200_000
	// benchRate is the ingest offered, in events per second, as
	// benchSenders agents each sending a batch every benchInterval.
	benchSenders  = 4
	benchInterval = 200 * time.Millisecond
	benchBatch    = 50
	benchWindow   = 10 * time.Second
	// benchQueries wildcard searches run at once from one caller.
	benchQueries = 6
	benchQuery   = "process.command_line:*mimikatz*"
)

type benchServer struct {
	url          string
	agent, plain *http.Client
	token        string
}

func newBenchServer(b *testing.B, acfg Config) *benchServer {
	ctx := context.Background()
	cfg := embedded.DefaultConfig()
	cfg.Dir = b.TempDir()
	st, err := embedded.Open(cfg, logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ca, err := pki.LoadOrCreate(b.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	units := unit.NewRegistry(st)
	if err := units.Apply(ctx, []unit.Spec{{ID: "ward-1", Name: "Ward 1", EnrollSecret: secret}}); err != nil {
		b.Fatal(err)
	}
	tokens := NewTokens(st, units)
	tok, err := tokens.Issue(ctx, Token{Name: "responder", Role: RoleResponder, Unit: "ward-1"})
	if err != nil {
		b.Fatal(err)
	}
	fl := fleet.New(st, nil)
	inc := incident.NewManager(st, incident.DefaultConfig(), nil)
	det := pipeline.DetectorFunc(func(event.Event) []event.Event { return nil })
	srv := New(acfg, Deps{Store: st, Units: units, Fleet: fl, Incidents: inc, PKI: ca, Tokens: tokens,
		Pipeline: pipeline.New(st, fl, inc, det, logging.Discard()), Log: logging.Discard()})
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = ca.ServerTLS()
	ts.StartTLS()
	b.Cleanup(ts.Close)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CAPEM())
	bs := &benchServer{url: ts.URL, token: tok, plain: benchClient(pool, nil)}
	bs.agent = bs.enroll(b, pool)
	prefill(b, st)
	return bs
}

func benchClient(pool *x509.CertPool, cert *tls.Certificate) *http.Client {
	tc := &tls.Config{RootCAs: pool}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 16}, Timeout: time.Minute}
}

func (bs *benchServer) enroll(b *testing.B, pool *x509.CertPool) *http.Client {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "pc"}}, key)
	req := wire.EnrollRequest{Secret: secret, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
		Host: wire.Host{Name: "pc-01", IPs: []string{"10.9.8.7"}}}
	body, _ := json.Marshal(req)
	resp, err := bs.plain.Post(bs.url+wire.PathEnroll, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var er wire.EnrollResponse
	if err := json.NewDecoder(resp.Body).Decode(&er); err != nil || resp.StatusCode != 200 {
		b.Fatalf("enroll: %d %v", resp.StatusCode, err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	pair, err := tls.X509KeyPair([]byte(er.Cert), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		b.Fatal(err)
	}
	return benchClient(pool, &pair)
}

// processEvent is a process start of the kind agents send most.
func processEvent(i int, ts time.Time) event.Event {
	ev := event.New("osquery.process", ts)
	ev.Set("host.id", fmt.Sprintf("host-%03d", i%300))
	ev.Set("lachan.unit", "ward-1")
	ev.Set("process.name", []string{"svchost.exe", "chrome.exe", "powershell.exe", "excel.exe"}[i%4])
	ev.Set("process.command_line", fmt.Sprintf(`C:\Program Files\App%d\app.exe --profile %d --flag=%x`, i%50, i, i*7919))
	ev.Set("process.pid", i%65536)
	return ev
}

// prefill stores benchStored events over the last day, straight into the
// store.
func prefill(b *testing.B, st store.Store) {
	start := time.Now().Add(-24 * time.Hour)
	step := 24 * time.Hour / benchStored
	batch := make([]event.Event, 0, 5000)
	for i := range benchStored {
		batch = append(batch, processEvent(i, start.Add(time.Duration(i)*step)))
		if len(batch) == cap(batch) || i == benchStored-1 {
			if _, err := st.PutEvents(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

type ingestResult struct {
	rate float64
	p99  time.Duration
}

// offerIngest sends benchSenders agents' batches for benchWindow at the
// fixed rate and returns the events per second acknowledged and the 99th
// percentile of a batch's round trip. A sender whose batch takes longer
// than benchInterval skips the ticks it missed, as an agent would send
// fewer, larger batches: the offered rate is not made up later.
func (bs *benchServer) offerIngest(b *testing.B) ingestResult {
	var mu sync.Mutex
	var lat []time.Duration
	var stored atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	for s := range benchSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(benchInterval)
			defer tick.Stop()
			for n := 0; time.Since(begin) < benchWindow; n++ {
				lines := make([][]byte, benchBatch)
				for i := range lines {
					lines[i], _ = json.Marshal(processEvent(s*1_000_000+n*benchBatch+i, time.Now()))
				}
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, bs.url+wire.PathIngest, bytes.NewReader(gz(lines)))
				for k, v := range gzipHdr {
					req.Header.Set(k, v)
				}
				resp, err := bs.agent.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("ingest: %d", resp.StatusCode)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				stored.Add(benchBatch)
				<-tick.C
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	slices.Sort(lat)
	var p99 time.Duration
	if len(lat) > 0 {
		p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return ingestResult{rate: float64(stored.Load()) / elapsed.Seconds(), p99: p99}
}

type queryCounts struct{ done, refused, timedOut, other atomic.Int64 }

// runQueries keeps benchQueries wildcard searches going from one caller
// until ctx ends; a refused one waits its Retry-After and tries again.
func (bs *benchServer) runQueries(ctx context.Context, qc *queryCounts) *sync.WaitGroup {
	path := wire.PathEvents + "?" + url.Values{"q": {benchQuery}, "from": {"48h"}}.Encode()
	var wg sync.WaitGroup
	for range benchQueries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, bs.url+path, nil)
				req.Header.Set("Authorization", "Bearer "+bs.token)
				resp, err := bs.plain.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					qc.done.Add(1)
				case http.StatusTooManyRequests:
					qc.refused.Add(1)
					secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
					select {
					case <-ctx.Done():
					case <-time.After(time.Duration(secs) * time.Second):
					}
				case http.StatusServiceUnavailable:
					qc.timedOut.Add(1)
				default:
					qc.other.Add(1)
				}
			}
		}()
	}
	return &wg
}

// BenchmarkIngestBesideQueries measures the agent ingest path at a fixed
// offered rate, first alone and then while one caller keeps six wildcard
// searches over the whole store going: with the default query limits, and
// with limits high enough to let all six run at once (as before there
// were any) for comparison.
func BenchmarkIngestBesideQueries(b *testing.B) {
	unlimited := DefaultConfig()
	unlimited.QueriesPerCaller, unlimited.QueryWorkers = benchQueries, benchQueries
	for _, c := range []struct {
		name string
		cfg  Config
	}{{"limits=default", DefaultConfig()}, {"limits=none", unlimited}} {
		b.Run(c.name, func(b *testing.B) { benchIngestBesideQueries(b, c.cfg) })
	}
}

func benchIngestBesideQueries(b *testing.B, cfg Config) {
	bs := newBenchServer(b, cfg)
	b.ResetTimer()
	var alone, beside ingestResult
	var qc queryCounts
	for range b.N {
		alone = bs.offerIngest(b)
		ctx, cancel := context.WithCancel(context.Background())
		wg := bs.runQueries(ctx, &qc)
		beside = bs.offerIngest(b)
		cancel()
		wg.Wait()
	}
	b.ReportMetric(float64(benchSenders*benchBatch)/benchInterval.Seconds(), "offered-ev/s")
	b.ReportMetric(alone.rate, "alone-ev/s")
	b.ReportMetric(beside.rate, "beside-ev/s")
	b.ReportMetric(beside.rate/alone.rate, "ratio")
	b.ReportMetric(float64(alone.p99.Microseconds())/1000, "alone-p99-ms")
	b.ReportMetric(float64(beside.p99.Microseconds())/1000, "beside-p99-ms")
	b.ReportMetric(float64(qc.done.Load()), "queries-done")
	b.ReportMetric(float64(qc.refused.Load()), "queries-429")
	b.ReportMetric(float64(qc.timedOut.Load()), "queries-503")
}
