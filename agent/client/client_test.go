package client

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
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lachan/internal/wire"
)

// testServer plays the agent API's enrollment, renewal and check-in with
// a CA of its own, recording the client certificate serial of each
// check-in.
type testServer struct {
	*httptest.Server
	caPath  string
	mu      sync.Mutex
	serials []string
}

func newTestServer(t *testing.T, validity time.Duration) *testServer {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour * 24), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	serial := int64(100)
	sign := func(csrPEM string) string {
		blk, _ := pem.Decode([]byte(csrPEM))
		csr, err := x509.ParseCertificateRequest(blk.Bytes)
		if err != nil {
			t.Errorf("csr: %v", err)
			return ""
		}
		serial++
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "agent-1"}, NotBefore: time.Now().Add(-time.Minute),
			NotAfter: time.Now().Add(validity), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca, csr.PublicKey, caKey)
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	ts := &testServer{}
	mux := http.NewServeMux()
	mux.HandleFunc(wire.PathEnroll, func(w http.ResponseWriter, r *http.Request) {
		var req wire.EnrollRequest
		json.NewDecoder(r.Body).Decode(&req)
		json.NewEncoder(w).Encode(wire.EnrollResponse{AgentID: "agent-1", Unit: "u", Cert: sign(req.CSR), CA: string(caPEM), BundleKey: make([]byte, 32)})
	})
	mux.HandleFunc(wire.PathRenew, func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			w.WriteHeader(401)
			return
		}
		var req wire.RenewRequest
		json.NewDecoder(r.Body).Decode(&req)
		json.NewEncoder(w).Encode(wire.RenewResponse{Cert: sign(req.CSR)})
	})
	mux.HandleFunc(wire.PathCheckIn, func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		ts.serials = append(ts.serials, r.TLS.PeerCertificates[0].SerialNumber.String())
		ts.mu.Unlock()
		json.NewEncoder(w).Encode(wire.CheckInResponse{Interval: time.Minute})
	})
	ts.Server = httptest.NewUnstartedServer(mux)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ts.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	// The test server's own certificate is httptest's; trust it as the CA
	// file the agent pins at enrollment.
	ts.caPath = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ts.caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600)
	return ts
}

func TestEnrollRenewAndRecover(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t, 100*24*time.Hour)
	state := t.TempDir()
	c, err := Enroll(ctx, state, ts.URL, ts.caPath, "secret", wire.Host{Name: "pc"})
	if err != nil {
		t.Fatal(err)
	}
	// Enrollment pinned the CA the server handed out; the test server's
	// own TLS certificate is not from it, so pin the test one again.
	os.WriteFile(filepath.Join(state, caFile), mustRead(t, ts.caPath), 0o600)
	if c, err = Load(state); err != nil {
		t.Fatal(err)
	}
	if !c.RenewDue(c.NotAfter.Add(-time.Hour)) || c.RenewDue(c.NotBefore) {
		t.Fatal("RenewDue: a 10-day certificate is due near its end, not at its start")
	}
	if _, err := c.CheckIn(ctx, wire.CheckInRequest{}); err != nil {
		t.Fatal(err)
	}
	oldCert := mustRead(t, filepath.Join(state, certFile))
	if err := c.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckIn(ctx, wire.CheckInRequest{}); err != nil {
		t.Fatal(err)
	}
	if string(mustRead(t, filepath.Join(state, certFile))) == string(oldCert) {
		t.Fatal("certificate on disk not replaced")
	}
	ts.mu.Lock()
	if len(ts.serials) != 2 || ts.serials[0] == ts.serials[1] {
		t.Fatalf("check-ins used certificates %v; want the renewed one second", ts.serials)
	}
	ts.mu.Unlock()

	// A crash between the two renames: the key is new, the certificate's
	// .next file is still there. Load completes the switch.
	keyPEM, _, _ := newKey("x")
	os.WriteFile(filepath.Join(state, keyFile+nextSuffix), keyPEM, 0o600)
	if _, err := Load(state); err == nil {
		// The stray key alone (no certificate) must be dropped, not used.
		if _, err := os.Stat(filepath.Join(state, keyFile+nextSuffix)); !os.IsNotExist(err) {
			t.Fatal("a lone renewed key was left behind")
		}
	} else {
		t.Fatalf("load after an incomplete renewal: %v", err)
	}
	if err := c.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	cur := mustRead(t, filepath.Join(state, certFile))
	os.Rename(filepath.Join(state, certFile), filepath.Join(state, certFile+nextSuffix))
	os.WriteFile(filepath.Join(state, certFile), oldCert, 0o644) // old certificate, new key: the mid-switch state
	if _, err := Load(state); err != nil {
		t.Fatalf("load mid-switch: %v", err)
	}
	if string(mustRead(t, filepath.Join(state, certFile))) != string(cur) {
		t.Fatal("mid-switch certificate not promoted")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// countingReader counts the bytes the transport took from a body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestIngestRefusedBeforeBodyIsSent: a batch goes out with Expect:
// 100-continue, so that a server refusing it at once is told nothing of
// its body, and the refusal carries the server's Retry-After.
func TestIngestRefusedBeforeBodyIsSent(t *testing.T) {
	ctx := context.Background()
	ts := newTestServer(t, 100*24*time.Hour)
	// refuse has ingest answered 429 without reading the body.
	var refuse atomic.Bool
	ts.Config.Handler.(*http.ServeMux).HandleFunc(wire.PathIngest, func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			json.NewEncoder(w).Encode(wire.Error{Error: "busy"})
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		json.NewEncoder(w).Encode(wire.IngestResponse{Received: int(n)})
	})
	state := t.TempDir()
	if _, err := Enroll(ctx, state, ts.URL, ts.caPath, "secret", wire.Host{Name: "pc"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state, caFile), mustRead(t, ts.caPath), 0o600)
	c, err := Load(state)
	if err != nil {
		t.Fatal(err)
	}
	// A long wait for 100 Continue: a slow test machine must not turn
	// into body bytes sent.
	c.http.Transport.(*http.Transport).ExpectContinueTimeout = time.Minute
	body := bytes.Repeat([]byte("x"), 256<<10)
	send := func() (int64, error) {
		var cr *countingReader
		_, err := c.IngestWrapped(ctx, body, func(r io.Reader) io.Reader { cr = &countingReader{r: r}; return cr })
		return cr.n.Load(), err
	}

	refuse.Store(true)
	sent, err := send()
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests || ce.RetryAfter != 2*time.Second {
		t.Fatalf("refused batch: %v; want a 429 with Retry-After 2s", err)
	}
	if sent != 0 {
		t.Fatalf("refused batch: %d of %d bytes sent", sent, len(body))
	}
	refuse.Store(false)
	if sent, err = send(); err != nil || sent != int64(len(body)) {
		t.Fatalf("taken batch: %v, %d of %d bytes sent", err, sent, len(body))
	}
}
