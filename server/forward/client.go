package forward

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
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"lachan/internal/tlsconf"
)

// Client is the TAXII 2.1 client adapter: it finds the API root and the
// collections by discovery, posts each bundle's objects signed with a
// detached JWS, and polls the status until the server has finished.
type Client struct {
	cfg  UpstreamConfig
	name string
	key  ed25519.PrivateKey
	http *http.Client

	mu       sync.Mutex
	root     string
	colls    map[string]Collection
	pollWait time.Duration
}

var _ Adapter = (*Client)(nil)

// NewClient returns a client for cfg that signs as name with key.
func NewClient(cfg UpstreamConfig, name string, key ed25519.PrivateKey) (*Client, error) {
	tc := tlsconf.New()
	if cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("forward.upstream.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("forward.upstream.ca_file %s: no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("forward.upstream client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, ResponseHeaderTimeout: time.Minute}
	return &Client{cfg: cfg, name: name, key: key, http: &http.Client{Transport: tr}, pollWait: 500 * time.Millisecond}, nil
}

// Name is the target, for the audit record.
func (c *Client) Name() string { return "taxii " + c.cfg.URL }

// Send posts the bundle's objects to the incidents collection.
func (c *Client) Send(ctx context.Context, b Bundle) (Receipt, error) {
	rc := Receipt{Target: c.Name()}
	coll, err := c.collection(ctx, c.cfg.Collection, true)
	if err != nil {
		return rc, err
	}
	body, err := Encode(Envelope{Objects: b.Objects})
	if err != nil {
		return rc, &SendError{Permanent: true, Err: fmt.Errorf("encode bundle %s: %w", b.ID, err)}
	}
	var st Status
	code, err := c.do(ctx, http.MethodPost, c.root+"collections/"+coll.ID+"/objects/", body, &st)
	rc.HTTPStatus = code
	if err != nil {
		return rc, err
	}
	for st.Status != "complete" {
		if err := sleep(ctx, c.pollWait); err != nil {
			return rc, err
		}
		if _, err := c.do(ctx, http.MethodGet, c.root+"status/"+url.PathEscape(st.ID)+"/", nil, &st); err != nil {
			return rc, err
		}
	}
	rc.StatusID, rc.Status, rc.Successes, rc.Failures = st.ID, st.Status, st.SuccessCount, st.FailureCount
	if st.FailureCount > 0 {
		msgs := make([]string, 0, len(st.Failures))
		for _, f := range st.Failures {
			msgs = append(msgs, f.ID+": "+f.Message)
		}
		return rc, &SendError{Status: code, Permanent: true, Err: fmt.Errorf("upstream refused %d object(s): %s", st.FailureCount, strings.Join(msgs, "; "))}
	}
	return rc, nil
}

// PollCursor is where a poll of the indicators collection resumes: after
// the objects added up to AddedAfter, or, in the middle of a long answer,
// at the server's Next.
type PollCursor struct {
	AddedAfter string `json:"added_after,omitempty"`
	Next       string `json:"next,omitempty"`
}

// Poll reads one page of the indicators collection from cur on and
// verifies the upstream's signature over it (pub nil: refuse). It returns
// the page's objects, the cursor after them and whether more follow.
func (c *Client) Poll(ctx context.Context, cur PollCursor, pub ed25519.PublicKey) ([]Object, PollCursor, bool, error) {
	if pub == nil {
		return nil, cur, false, errors.New("indicators: forward.upstream.public_key is not set; refusing unverifiable indicators")
	}
	coll, err := c.collection(ctx, c.cfg.IndicatorCollection, false)
	if err != nil {
		return nil, cur, false, err
	}
	path := c.root + "collections/" + coll.ID + "/objects/"
	q := url.Values{}
	if cur.AddedAfter != "" {
		q.Set("added_after", cur.AddedAfter)
	}
	if cur.Next != "" {
		q.Set("next", cur.Next)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, body, err := c.raw(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, cur, false, err
	}
	if _, err := Verify(resp.Header.Get(SignatureHeader), body, func(string) (ed25519.PublicKey, bool) { return pub, true }); err != nil {
		return nil, cur, false, fmt.Errorf("indicators from %s: %w", c.cfg.URL, err)
	}
	objs, err := ParseEnvelope(body)
	if err != nil {
		return nil, cur, false, fmt.Errorf("indicators from %s: %w", c.cfg.URL, err)
	}
	var page struct {
		More bool   `json:"more"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, cur, false, fmt.Errorf("indicators from %s: envelope: %w", c.cfg.URL, err)
	}
	if page.More && page.Next == "" {
		return nil, cur, false, fmt.Errorf("indicators from %s: the answer says more objects follow but gives no next", c.cfg.URL)
	}
	next := PollCursor{AddedAfter: cur.AddedAfter, Next: page.Next}
	if !page.More {
		next.Next = ""
		if last := resp.Header.Get("X-TAXII-Date-Added-Last"); last != "" {
			next.AddedAfter = last
		}
	}
	return objs, next, page.More, nil
}

// collection finds a collection by title through discovery, once.
func (c *Client) collection(ctx context.Context, title string, write bool) (Collection, error) {
	c.mu.Lock()
	coll, ok := c.colls[title]
	c.mu.Unlock()
	if !ok {
		if err := c.discover(ctx); err != nil {
			return Collection{}, err
		}
		c.mu.Lock()
		coll, ok = c.colls[title]
		c.mu.Unlock()
	}
	switch {
	case !ok:
		return Collection{}, &SendError{Err: fmt.Errorf("upstream %s has no collection titled %q", c.cfg.URL, title)}
	case write && !coll.CanWrite || !write && !coll.CanRead:
		return Collection{}, &SendError{Err: fmt.Errorf("upstream %s: collection %q is not open to us for %s", c.cfg.URL, title, map[bool]string{true: "writing", false: "reading"}[write])}
	}
	return coll, nil
}

func (c *Client) discover(ctx context.Context) error {
	var d Discovery
	if _, err := c.do(ctx, http.MethodGet, "/taxii2/", nil, &d); err != nil {
		return err
	}
	root := d.Default
	if root == "" && len(d.APIRoots) > 0 {
		root = d.APIRoots[0]
	}
	u, err := url.Parse(root)
	if err != nil || root == "" {
		return &SendError{Err: fmt.Errorf("discovery at %s names no usable API root", c.cfg.URL)}
	}
	path := strings.TrimSuffix(u.Path, "/") + "/"
	var ar APIRoot
	if _, err := c.do(ctx, http.MethodGet, path, nil, &ar); err != nil {
		return err
	}
	var cs Collections
	if _, err := c.do(ctx, http.MethodGet, path+"collections/", nil, &cs); err != nil {
		return err
	}
	m := map[string]Collection{}
	for _, col := range cs.Collections {
		m[col.Title] = col
	}
	c.mu.Lock()
	c.root, c.colls = path, m
	c.mu.Unlock()
	return nil
}

// do sends a request and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	resp, b, err := c.raw(ctx, method, path, body)
	if err != nil {
		return statusOf(err), err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return resp.StatusCode, &SendError{Status: resp.StatusCode, Err: fmt.Errorf("%s %s: answer: %w", method, path, err)}
	}
	return resp.StatusCode, nil
}

// raw sends a request (signed when it has a body) and returns a 2xx
// answer's body; other answers become a SendError.
func (c *Client) raw(ctx context.Context, method, path string, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.cfg.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, &SendError{Permanent: true, Err: err}
	}
	req.Header.Set("Accept", MediaType)
	if body != nil {
		req.Header.Set("Content-Type", MediaType)
		req.Header.Set(SignatureHeader, Sign(body, c.key, c.name))
	}
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, &SendError{Err: fmt.Errorf("%s %s: %w", method, path, err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, &SendError{Status: resp.StatusCode, Err: fmt.Errorf("%s %s: read answer: %w", method, path, err)}
	}
	if resp.StatusCode/100 != 2 {
		var em ErrorMessage
		_ = json.Unmarshal(b, &em)
		msg := strings.TrimSpace(em.Title + ": " + em.Description)
		if em.Title == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		// 4xx other than timeouts and throttling is the request's own
		// fault; authentication answers are retried, since the upper tier
		// may register this sender later.
		perm := resp.StatusCode/100 == 4 && resp.StatusCode != 401 && resp.StatusCode != 403 &&
			resp.StatusCode != 404 && resp.StatusCode != 408 && resp.StatusCode != 429
		return resp, nil, &SendError{Status: resp.StatusCode, Permanent: perm, Err: fmt.Errorf("%s %s: %s", method, path, msg)}
	}
	return resp, b, nil
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
