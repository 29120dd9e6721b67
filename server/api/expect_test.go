package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync/atomic"
	"testing"
	"time"

	"lachan/internal/wire"
)

// countingReader counts the bytes the transport took from a request body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestIngestRefusedBeforeBodyIsSent: an agent that asks with Expect:
// 100-continue gets its 429 without sending the batch, over HTTP/2 (the
// stream is reset, the connection kept) and over HTTP/1.1 (the server
// closes the connection, since the body it did not ask for may follow),
// and a batch taken in is still sent and stored.
func TestIngestRefusedBeforeBodyIsSent(t *testing.T) {
	for _, proto := range []string{"h2", "http/1.1"} {
		t.Run(proto, func(t *testing.T) {
			e, entered, release := stalledEnv(t, IngestConfig{MaxBatches: 1, MaxEvents: 4, RetryAfter: time.Second})
			ts := httptest.NewUnstartedServer(e.srv.Handler())
			ts.TLS = e.srv.http.TLSConfig.Clone()
			ts.TLS.NextProtos = []string{proto}
			ts.StartTLS()
			t.Cleanup(ts.Close)
			tc := e.agent.Transport.(*http.Transport).TLSClientConfig.Clone()
			// The wait for 100 Continue is long so that a server that
			// neither refuses nor asks shows as body bytes sent, not as a
			// race with a timer.
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, ExpectContinueTimeout: time.Minute}}
			defer c.CloseIdleConnections()

			post := func(body []byte, trace *httptrace.ClientTrace) (int, string, int64) {
				t.Helper()
				cr := &countingReader{r: bytes.NewReader(body)}
				req, _ := http.NewRequest(http.MethodPost, ts.URL+wire.PathIngest, cr)
				req.ContentLength = int64(len(body))
				req.Header.Set("Content-Encoding", "gzip")
				req.Header.Set("Expect", "100-continue")
				if trace != nil {
					req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("ingest: %v", err)
				}
				defer resp.Body.Close()
				io.Copy(io.Discard, resp.Body)
				return resp.StatusCode, resp.Proto, cr.n.Load()
			}

			done := make(chan int, 1)
			go func() { code, _, _ := post(gz(findings(4)), nil); done <- code }()
			<-entered
			body := gz(findings(50))
			var got100 atomic.Bool
			code, gotProto, sent := post(body, &httptrace.ClientTrace{Got100Continue: func() { got100.Store(true) }})
			if code != http.StatusTooManyRequests {
				t.Fatalf("with the queue full: %d, want 429", code)
			}
			if sent != 0 || got100.Load() {
				t.Fatalf("refused batch: %d of %d body bytes sent, 100 Continue %v; want none", sent, len(body), got100.Load())
			}
			if want := map[string]string{"h2": "HTTP/2.0", "http/1.1": "HTTP/1.1"}[proto]; gotProto != want {
				t.Fatalf("answered over %s, want %s", gotProto, want)
			}
			release()
			if c := <-done; c != http.StatusOK {
				t.Fatalf("the batch taken in: %d", c)
			}

			var reused atomic.Bool
			code, _, sent = post(body, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused.Store(i.Reused) }})
			if code != http.StatusOK || sent != int64(len(body)) {
				t.Fatalf("after the queue drained: %d, %d of %d body bytes sent", code, sent, len(body))
			}
			if proto == "h2" && !reused.Load() {
				t.Fatal("over HTTP/2 the refusal cost the connection")
			}
			if n := e.stored(); n != 54 {
				t.Fatalf("stored %d events, want 54", n)
			}
		})
	}
}
