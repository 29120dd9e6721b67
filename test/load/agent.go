package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"lachan/agent/client"
	"lachan/internal/tlsconf"
	"lachan/internal/wire"
)

// agent is one simulated PC: its identity and its own connection.
type agent struct {
	n      int
	host   wire.Host
	id     string
	http   *http.Client
	base   string
	source net.IP // nil: the system picks
}

// statusError is an answer other than 200.
type statusError struct {
	status     int
	retryAfter time.Duration
	msg        string
}

func (e *statusError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.msg) }

// transport is the real agent's (agent/client), dialling from source.
func transport(pool *x509.CertPool, cert *tls.Certificate, source net.IP, keepAlive bool) *http.Client {
	tc := tlsconf.WithRoots(pool)
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if source != nil {
		d.LocalAddr = &net.TCPAddr{IP: source}
	}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     tc,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 15 * time.Second,
		IdleConnTimeout:     client.IdleConnTimeout,
		DisableKeepAlives:   !keepAlive,
		// As the real agent: ingest asks before sending its batch.
		ExpectContinueTimeout: 5 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

// enroll makes the agent's key, enrolls with secret, and keeps the
// certificate it is given; a 429 is waited out as its Retry-After says,
// and counted in throttled.
func enroll(ctx context.Context, n int, base string, pool *x509.CertPool, secret string, source net.IP, throttled func()) (*agent, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		return nil, err
	}
	a := &agent{n: n, base: base, source: source, host: hostOf(n, source)}
	csr, err := x509.CreateCertificateRequest(crand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: a.host.Name}}, key)
	if err != nil {
		return nil, err
	}
	req := wire.EnrollRequest{Secret: secret, Host: a.host,
		CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))}
	c := transport(pool, nil, source, false)
	var resp wire.EnrollResponse
	for {
		err = post(ctx, c, base+wire.PathEnroll, req, &resp)
		var se *statusError
		if !errors.As(err, &se) || se.status != http.StatusTooManyRequests {
			break
		}
		throttled()
		if err := sleep(ctx, se.retryAfter); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, fmt.Errorf("enroll agent %d: %w", n, err)
	}
	block, _ := pem.Decode([]byte(resp.Cert))
	if block == nil {
		return nil, fmt.Errorf("enroll agent %d: no certificate in the answer", n)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	a.id = resp.AgentID
	a.http = transport(pool, &tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: key, Leaf: leaf}, source, true)
	return a, nil
}

// hostOf is the n-th PC's description: a Windows PC with its own
// hardware ID and its loopback source address.
func hostOf(n int, source net.IP) wire.Host {
	h := wire.Host{Name: fmt.Sprintf("pc-%05d", n), OS: "windows", Arch: "amd64", Agent: "load", Osq: "5.12.1",
		HardwareID: fmt.Sprintf("load-%08d", n)}
	if source != nil {
		h.IPs = []string{source.String()}
	}
	return h
}

// sourceAddr gives agent n its own address in 127.0.0.0/8 (from
// 127.1.0.0), so that per-address limits see one PC each.
func sourceAddr(n int) net.IP {
	v := 1<<16 + n
	return net.IPv4(127, byte(v>>16), byte(v>>8), byte(v))
}

// checkIn sends the agent's heartbeat.
func (a *agent) checkIn(ctx context.Context, shipped int64) error {
	var resp wire.CheckInResponse
	return post(ctx, a.http, a.base+wire.PathCheckIn, wire.CheckInRequest{Host: a.host, Status: wire.Status{Osquery: "ok", YARARules: 3, Shipped: shipped}}, &resp)
}

// ingest sends one gzip NDJSON body; sent is how much of it the
// transport read.
func (a *agent) ingest(ctx context.Context, body []byte) (resp wire.IngestResponse, sent int64, err error) {
	var n atomic.Int64
	open := func() io.Reader { return &countingReader{r: bytes.NewReader(body), n: &n} }
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+wire.PathIngest, open())
	if err != nil {
		return resp, 0, err
	}
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(open()), nil }
	req.Header.Set("Content-Type", wire.ContentTypeNDJSON)
	req.Header.Set("Content-Encoding", "gzip")
	// A server whose queue is full refuses before the body is sent.
	req.Header.Set("Expect", "100-continue")
	err = do(a.http, req, &resp)
	return resp, n.Load(), err
}

// countingReader counts the bytes read from a request body into n (a
// retried request reads a new one); the transport reads it from its own
// goroutine.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func post(ctx context.Context, c *http.Client, url string, v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return do(c, req, out)
}

func do(c *http.Client, req *http.Request, out any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := &statusError{status: resp.StatusCode}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.retryAfter = time.Duration(secs) * time.Second
		} else if resp.StatusCode == http.StatusTooManyRequests {
			e.retryAfter = time.Second
		}
		var body wire.Error
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body) == nil {
			e.msg = body.Error
		}
		return e
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}

// compressor is a gzip writer with scratch space for the lines it is
// given. It compresses at the default level, as the agent's shipper does,
// with klauspost/compress rather than compress/gzip: the same format and
// about the same size (79 bytes an event against 74), in 40% of the CPU,
// which matters where one process compresses for thousands of PCs on the
// server's own cores.
type compressor struct {
	zw    *gzip.Writer
	lines []byte
}

// compressors are shared by all agents, as only those encoding at the
// moment need one: a compressor's state is hundreds of kilobytes, which
// thousands of agents each keeping their own would take and fault in.
var compressors = sync.Pool{New: func() any { return &compressor{zw: gzip.NewWriter(nil)} }}

// encode builds the gzip NDJSON body of an agent's events first to
// first+count-1 into buf, stamped with the time now and new IDs from rng.
// Like the agent's shipper, which compresses the lines its spool holds,
// it only compresses: the lines were encoded once (templates.encode).
func encode(t *templates, buf *bytes.Buffer, rng *rand.Rand, first uint64, count int) ([]byte, error) {
	c := compressors.Get().(*compressor)
	defer compressors.Put(c)
	buf.Reset()
	c.zw.Reset(buf)
	now := time.Now()
	ts := now.UTC().AppendFormat(nil, time.RFC3339Nano)
	b := c.lines[:0]
	for i := range count {
		b = t.appendLine(b, first+uint64(i), ts, now, rng)
		// A compressor takes large writes best: a few kilobytes at a time.
		if len(b) >= 32<<10 || i == count-1 {
			if _, err := c.zw.Write(b); err != nil {
				return nil, err
			}
			b = b[:0]
		}
	}
	c.lines = b
	if err := c.zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
