// Package client is the agent's side of the agent API: enrollment with the
// unit secret, then mutual TLS with the agent's own certificate, the
// server's CA pinned (the system's roots are never consulted).
package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"lachan/internal/atomicfile"
	"lachan/internal/bundle"
	"lachan/internal/tlsconf"
	"lachan/internal/wire"
)

// Files in the agent's state directory.
const (
	identityFile = "identity.json"
	keyFile      = "agent.key"
	certFile     = "agent.pem"
	caFile       = "ca.pem"
	bundleFile   = "bundle.pub"
)

// Identity is who the agent is, kept in its state directory.
type Identity struct {
	AgentID string `json:"agent_id"`
	Unit    string `json:"unit"`
	Server  string `json:"server"`
}

// ErrNotEnrolled means the state directory has no identity yet.
var ErrNotEnrolled = errors.New("agent not enrolled")

// Error is an answer the server gave; Retry says whether sending the same
// request later can succeed.
type Error struct {
	Status int
	Body   wire.Error
	// RetryAfter is the wait the server asked for (Retry-After), if any.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("server answered %d: %s", e.Status, e.Body.Error)
	if e.Body.Line > 0 {
		s += fmt.Sprintf(" (line %d)", e.Body.Line)
	}
	return s
}

// Retry reports whether the same request may succeed later.
func (e *Error) Retry() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Options are the transport settings an agent's configuration chooses.
type Options struct {
	// Proxy is an HTTPS proxy (http://[user:password@]host:port) through
	// which the agent reaches the server with CONNECT; TLS, and the CA
	// pinning, run end to end through it. Empty: HTTPS_PROXY and NO_PROXY
	// from the environment, as the system's other programs use them.
	Proxy string
	// Fallback, when set, gives addresses for a host name that does not
	// resolve (the server's, kept by isolation); it is not configuration.
	Fallback func(host string) []netip.Addr `mapstructure:"-"`
}

// Validate checks the proxy address without logging its password.
func (o Options) Validate() error {
	_, err := o.proxy()
	return err
}

// proxy returns the function the transport picks a proxy with.
func (o Options) proxy() (func(*http.Request) (*url.URL, error), error) {
	if o.Proxy == "" {
		return http.ProxyFromEnvironment, nil
	}
	u, err := url.Parse(o.Proxy)
	if err != nil {
		return nil, errors.New("server.proxy: not a URL") // the parse error would repeat a password
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("server.proxy: want http://host:port (or https://), got scheme %q host %q", u.Scheme, u.Host)
	}
	return http.ProxyURL(u), nil
}

// Client is an enrolled agent's connection to its server.
type Client struct {
	ID Identity
	// BundleKey verifies the server's rule bundles; nil when the agent
	// enrolled with a server that sent none.
	BundleKey ed25519.PublicKey
	// NotBefore and NotAfter bound the agent's certificate.
	NotBefore, NotAfter time.Time
	stateDir            string
	pool                *x509.CertPool
	base                string
	http                *http.Client
	opts                Options
	action              actionKey
}

// Load opens the identity in stateDir, with the default transport.
func Load(stateDir string) (*Client, error) { return LoadWith(stateDir, Options{}) }

// LoadWith opens the identity in stateDir, with the transport of o.
func LoadWith(stateDir string, o Options) (*Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(stateDir, identityFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("agent identity: %w", err)
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("agent identity %s: %w", filepath.Join(stateDir, identityFile), err)
	}
	if err := promoteNext(stateDir); err != nil {
		return nil, err
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(stateDir, certFile), filepath.Join(stateDir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("agent certificate: %w", err)
	}
	pool, err := loadPool(filepath.Join(stateDir, caFile))
	if err != nil {
		return nil, err
	}
	c := &Client{ID: id, base: strings.TrimRight(id.Server, "/"), http: httpClient(pool, &pair, o), stateDir: stateDir, pool: pool, opts: o}
	if pair.Leaf != nil {
		c.NotBefore, c.NotAfter = pair.Leaf.NotBefore, pair.Leaf.NotAfter
	}
	if k, err := os.ReadFile(filepath.Join(stateDir, bundleFile)); err == nil && len(k) == ed25519.PublicKeySize {
		c.BundleKey = ed25519.PublicKey(k)
	}
	c.loadActionKey()
	return c, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("server CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("server CA %s: no PEM certificate", path)
	}
	return pool, nil
}

// IdleConnTimeout is how long the agent keeps its connection to the
// server open with nothing to send. An agent that ships (every 10 s by
// default) keeps it between batches; one that only checks in (every
// minute) closes it in between, so that a server of thousands of quiet
// PCs does not hold a TLS connection, its buffers and two goroutines for
// each of them (test/load -idle-agents: docs/benchmarks.md). It is below
// the server's own idle limit (server/api.IdleTimeout), so that the agent,
// not the server, ends an idle connection and no request races the close.
const IdleConnTimeout = 20 * time.Second

// httpClient makes the transport; o was validated before.
func httpClient(pool *x509.CertPool, cert *tls.Certificate, o Options) *http.Client {
	tc := tlsconf.WithRoots(pool)
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	proxy, _ := o.proxy()
	tr := &http.Transport{
		Proxy:               proxy,
		DialContext:         dialer(o),
		TLSClientConfig:     tc,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 15 * time.Second,
		IdleConnTimeout:     IdleConnTimeout,
		// Batches are sent with Expect: 100-continue, so that a server
		// whose ingest queue is full refuses one before it crosses the
		// network. The server asks for the body as soon as it takes the
		// batch in, so the wait only runs out on a server too loaded to
		// answer at all (at 1 s, a loaded 2-core server saw refused
		// bodies arrive anyway) or one that ignores the expectation.
		ExpectContinueTimeout: 5 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

// Enroll joins the unit whose secret this is. It makes the agent's key
// (which never leaves stateDir), trusts only the CA in caPath, and stores
// the identity, certificate and pinned CA.
func Enroll(ctx context.Context, stateDir, server, caPath, secret string, host wire.Host) (*Client, error) {
	return EnrollWith(ctx, stateDir, server, caPath, secret, host, Options{})
}

// EnrollWith is Enroll with the transport of o.
func EnrollWith(ctx context.Context, stateDir, server, caPath, secret string, host wire.Host, o Options) (*Client, error) {
	return EnrollRequest(ctx, stateDir, server, caPath, wire.EnrollRequest{Secret: secret, Host: host}, o)
}

// EnrollRequest is Enroll with the credential (secret or one-time code)
// and host of req; its CSR is made here.
func EnrollRequest(ctx context.Context, stateDir, server, caPath string, req wire.EnrollRequest, o Options) (*Client, error) {
	host := req.Host
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	pool, err := loadPool(caPath)
	if err != nil {
		return nil, err
	}
	keyPEM, csrPEM, err := newKey(host.Name)
	if err != nil {
		return nil, err
	}
	req.CSR = csrPEM
	c := &Client{base: strings.TrimRight(server, "/"), http: httpClient(pool, nil, o), opts: o}
	var resp wire.EnrollResponse
	if err := c.post(ctx, wire.PathEnroll, req, &resp); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{keyFile, keyPEM, 0o600},
		{certFile, []byte(resp.Cert), 0o644},
		{caFile, []byte(resp.CA), 0o644},
		{bundleFile, resp.BundleKey, 0o644},
	}
	if len(resp.ActionKey) > 0 {
		files = append(files, struct {
			name string
			data []byte
			mode os.FileMode
		}{actionKeyFile, resp.ActionKey, 0o644})
	}
	for _, f := range files {
		if err := atomicfile.Write(filepath.Join(stateDir, f.name), f.data, f.mode); err != nil {
			return nil, err
		}
	}
	id, _ := json.MarshalIndent(Identity{AgentID: resp.AgentID, Unit: resp.Unit, Server: server}, "", "  ")
	// The identity is written last: its presence means enrollment completed.
	if err := atomicfile.Write(filepath.Join(stateDir, identityFile), id, 0o600); err != nil {
		return nil, err
	}
	return LoadWith(stateDir, o)
}

// CheckIn sends a heartbeat and returns the server's answer.
func (c *Client) CheckIn(ctx context.Context, req wire.CheckInRequest) (wire.CheckInResponse, error) {
	var resp wire.CheckInResponse
	err := c.post(ctx, wire.PathCheckIn, req, &resp)
	return resp, err
}

// Ingest sends a gzip NDJSON batch (see wire.EncodeBatch).
func (c *Client) Ingest(ctx context.Context, body []byte) (wire.IngestResponse, error) {
	return c.IngestWrapped(ctx, body, nil)
}

// IngestWrapped sends a batch whose body the transport reads through
// wrap (nil: directly), which can pace it; a retried request reads
// through a new wrap.
func (c *Client) IngestWrapped(ctx context.Context, body []byte, wrap func(io.Reader) io.Reader) (wire.IngestResponse, error) {
	var resp wire.IngestResponse
	hdr := map[string]string{"Content-Type": wire.ContentTypeNDJSON, "Content-Encoding": "gzip", "Expect": "100-continue"}
	open := func() io.Reader {
		if wrap == nil {
			return bytes.NewReader(body)
		}
		return wrap(bytes.NewReader(body))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+wire.PathIngest, open())
	if err != nil {
		return resp, err
	}
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(open()), nil }
	return resp, c.do(req, hdr, &resp)
}

// FetchRules downloads the signed rule bundle; the caller verifies it.
func (c *Client) FetchRules(ctx context.Context) (bundle.Signed, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+wire.PathRules, nil)
	if err != nil {
		return bundle.Signed{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return bundle.Signed{}, fmt.Errorf("GET %s: %w", wire.PathRules, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := &Error{Status: resp.StatusCode}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e.Body) != nil {
			e.Body.Error = http.StatusText(resp.StatusCode)
		}
		return bundle.Signed{}, e
	}
	var s bundle.Signed
	// Base64 makes the JSON a third larger than the bundle itself.
	if err := json.NewDecoder(io.LimitReader(resp.Body, bundle.MaxBytes*3/2)).Decode(&s); err != nil {
		return bundle.Signed{}, fmt.Errorf("GET %s: decode answer: %w", wire.PathRules, err)
	}
	return s, nil
}

func (c *Client) post(ctx context.Context, path string, v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.send(ctx, path, bytes.NewReader(b), map[string]string{"Content-Type": "application/json"}, out)
}

func (c *Client) send(ctx context.Context, path string, body io.Reader, hdr map[string]string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, body)
	if err != nil {
		return err
	}
	return c.do(req, hdr, out)
}

func (c *Client) do(req *http.Request, hdr map[string]string, out any) error {
	path := req.URL.Path
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := &Error{Status: resp.StatusCode}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e.Body) != nil {
			e.Body.Error = http.StatusText(resp.StatusCode)
		}
		return e
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("POST %s: decode answer: %w", path, err)
	}
	return nil
}
