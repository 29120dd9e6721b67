package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	elasticsearch "github.com/elastic/go-elasticsearch/v8"
)

// maxResponseBytes bounds what the engine reads of one answer.
const maxResponseBytes = 1 << 30

// errUnavailable marks a failure to reach the cluster at all.
var errUnavailable = errors.New("elasticsearch unavailable")

// APIError is an error answer of the cluster.
type APIError struct {
	Status int
	Type   string
	Reason string
}

func (e *APIError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("elasticsearch: status %d", e.Status)
	}
	return fmt.Sprintf("elasticsearch: status %d: %s: %s", e.Status, e.Type, e.Reason)
}

// retryable reports whether a request that failed this way may succeed
// later unchanged.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusTooManyRequests || ae.Status >= 500
	}
	return errors.Is(err, errUnavailable)
}

// newClient builds the HTTP client: its own CA only (or a pinned
// fingerprint), API key or basic auth, no retries of its own (the engine
// retries with backoff and knows which operations are safe to repeat).
func newClient(cfg Config) (*elasticsearch.Client, error) {
	ec := elasticsearch.Config{
		Addresses:              cfg.Addresses,
		APIKey:                 cfg.APIKey,
		Username:               cfg.Username,
		Password:               cfg.Password,
		CertificateFingerprint: normalFingerprint(cfg.CAFingerprint),
		DisableRetry:           true,
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("store.elastic.ca_file: %w", err)
		}
		ec.CACert = pem
	}
	c, err := elasticsearch.NewClient(ec)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client: %w", err)
	}
	return c, nil
}

// request is one call to the cluster.
type request struct {
	method string
	// path is unescaped segments joined by "/"; each segment is escaped.
	path   []string
	query  url.Values
	body   []byte
	ndjson bool
}

// do sends r and returns the status and body of a 2xx answer, or an
// *APIError (with the status) for any other, or an error wrapping
// errUnavailable when no answer came.
func (e *Engine) do(ctx context.Context, r request) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	var escaped, plain strings.Builder
	for _, seg := range r.path {
		escaped.WriteString("/" + url.PathEscape(seg))
		plain.WriteString("/" + seg)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, "/", bytes.NewReader(r.body))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", r.method, plain.String(), err)
	}
	req.URL = &url.URL{Path: plain.String(), RawPath: escaped.String(), RawQuery: r.query.Encode()}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
		if r.ndjson {
			req.Header.Set("Content-Type", "application/x-ndjson")
		}
	}
	res, err := e.es.Perform(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return 0, nil, fmt.Errorf("%s %s: %w", r.method, plain.String(), err)
		}
		return 0, nil, fmt.Errorf("%s %s: %w: %v", r.method, plain.String(), errUnavailable, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return res.StatusCode, nil, fmt.Errorf("%s %s: read answer: %w: %v", r.method, plain.String(), errUnavailable, err)
	}
	if res.StatusCode/100 != 2 {
		return res.StatusCode, body, fmt.Errorf("%s %s: %w", r.method, plain.String(), parseAPIError(res.StatusCode, body))
	}
	return res.StatusCode, body, nil
}

// parseAPIError reads an error answer: {"error":{"type","reason"},"status"}
// or, for some APIs, {"error":"text"}.
func parseAPIError(status int, body []byte) *APIError {
	ae := &APIError{Status: status}
	var full struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &full) != nil || len(full.Error) == 0 {
		return ae
	}
	var obj errorBody
	if json.Unmarshal(full.Error, &obj) == nil {
		ae.Type, ae.Reason = obj.Type, obj.Reason
		return ae
	}
	var text string
	if json.Unmarshal(full.Error, &text) == nil {
		ae.Reason = text
	}
	return ae
}

// errorBody is the error object of an answer or of a bulk item.
type errorBody struct {
	Type     string     `json:"type"`
	Reason   string     `json:"reason"`
	CausedBy *errorBody `json:"caused_by"`
}
