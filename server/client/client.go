// Package client is the operator's side of the REST API, used by the lachan
// CLI and by tests: HTTPS with the server's CA pinned and a bearer token.
package client

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"lachan/internal/event"
	"lachan/internal/tlsconf"
	"lachan/internal/wire"
)

// Client talks to one server.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the server at base (https://host:port) that
// trusts only the CA in caFile and authenticates with the token in
// tokenFile (or token, when given directly); with neither it sends no
// credential (for logging in).
func New(base, caFile, tokenFile, token string) (*Client, error) {
	if token == "" && tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("operator token: %w (is the server started, and is this its data directory?)", err)
		}
		token = strings.TrimSpace(string(b))
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("server CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("server CA %s: no PEM certificate", caFile)
	}
	tr := &http.Transport{TLSClientConfig: tlsconf.WithRoots(pool), ForceAttemptHTTP2: true}
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

// APIError is an error answer from the server.
type APIError struct {
	Status int
	Body   wire.Error
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("server answered %d: %s", e.Status, e.Body.Error)
	if e.Body.Field != "" {
		s += " (field " + e.Body.Field + ")"
	}
	return s
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, hdr map[string]string, out any) error {
	resp, err := c.send(ctx, c.http, method, path, body, hdr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// send makes a request and returns a successful answer; any other is an
// *APIError.
func (c *Client) send(ctx context.Context, hc *http.Client, method, path string, body io.Reader, hdr map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		ae := &APIError{Status: resp.StatusCode}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ae.Body); err != nil {
			ae.Body.Error = http.StatusText(resp.StatusCode)
		}
		return nil, ae
	}
	return resp, nil
}

// Stream fetches a path whose answer may be long (an export): the caller
// reads and closes the body; only ctx bounds the time.
func (c *Client) Stream(ctx context.Context, path string, query url.Values) (io.ReadCloser, http.Header, error) {
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	hc := *c.http
	hc.Timeout = 0
	resp, err := c.send(ctx, &hc, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	return resp.Body, resp.Header, nil
}

// Get fetches a path into out.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	return c.do(ctx, http.MethodGet, path, nil, nil, out)
}

// Post sends v as JSON.
func (c *Client) Post(ctx context.Context, path string, v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, bytes.NewReader(b), map[string]string{"Content-Type": "application/json"}, out)
}

// PostFile sends body as it is, of the given content type.
func (c *Client) PostFile(ctx context.Context, path, contentType string, body io.Reader, out any) error {
	return c.do(ctx, http.MethodPost, path, body, map[string]string{"Content-Type": contentType}, out)
}

// Put sends v as JSON.
func (c *Client) Put(ctx context.Context, path string, v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPut, path, bytes.NewReader(b), map[string]string{"Content-Type": "application/json"}, out)
}

// Delete removes what path names.
func (c *Client) Delete(ctx context.Context, path string, query url.Values, out any) error {
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	return c.do(ctx, http.MethodDelete, path, nil, nil, out)
}

// SendImport sends one batch (at most wire.MaxIngestEvents) of Windows
// events read from files, as the events of the PCs they name; unit, if
// not empty, is the unit of PCs no agent has.
func (c *Client) SendImport(ctx context.Context, evs []event.Event, unit string) (wire.IngestResponse, error) {
	var r wire.IngestResponse
	body, err := wire.EncodeBatch(evs)
	if err != nil {
		return r, err
	}
	path := wire.PathImport
	if unit != "" {
		path += "?unit=" + url.QueryEscape(unit)
	}
	hdr := map[string]string{"Content-Type": wire.ContentTypeNDJSON, "Content-Encoding": "gzip"}
	err = c.do(ctx, http.MethodPost, path, bytes.NewReader(body), hdr, &r)
	return r, err
}

// SendNetwork posts network records in gzip NDJSON batches.
func (c *Client) SendNetwork(ctx context.Context, evs []event.Event) (wire.IngestResponse, error) {
	var total wire.IngestResponse
	for len(evs) > 0 {
		n := min(len(evs), wire.MaxIngestEvents)
		body, err := wire.EncodeBatch(evs[:n])
		if err != nil {
			return total, err
		}
		var r wire.IngestResponse
		hdr := map[string]string{"Content-Type": wire.ContentTypeNDJSON, "Content-Encoding": "gzip"}
		if err := c.do(ctx, http.MethodPost, wire.PathNetworkIngest, bytes.NewReader(body), hdr, &r); err != nil {
			return total, err
		}
		total.Received += r.Received
		total.Stored += r.Stored
		total.Duplicates += r.Duplicates
		total.Alerts += r.Alerts
		evs = evs[n:]
	}
	return total, nil
}
