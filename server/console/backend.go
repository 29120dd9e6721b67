package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"lachan/internal/wire"
)

// apiError is the REST API's refusal: its status and its message.
type apiError struct {
	Status int
	Msg    string
	Field  string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Msg) }

// recorder keeps the API's answer in memory. It owns body until the call
// returns.
type recorder struct {
	hdr    http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.hdr }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// call runs one REST request through the API's handler as the person
// whose session secret is given, from the browser's address (so the
// audit trail names where the person was), and decodes a 2xx answer
// into out. The API authenticates, checks the permission, scopes by unit
// and audits: the console decides none of that.
func (c *Console) call(orig *http.Request, secret, method, path string, q url.Values, body, out any) error {
	rec, err := c.exchange(orig, secret, method, path, q, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// exchange is call's request and answer: a 2xx answer comes back whole,
// headers and bytes, for answers that are files rather than JSON.
func (c *Console) exchange(orig *http.Request, secret, method, path string, q url.Values, body any) (*recorder, error) {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	u := path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(orig.Context(), method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("request %s %s: %w", method, path, err)
	}
	req.RemoteAddr = orig.RemoteAddr
	req.TLS = orig.TLS
	req.Header.Set("User-Agent", "lachan-console")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	rec := &recorder{hdr: http.Header{}}
	c.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status/100 != 2 {
		var e wire.Error
		if json.Unmarshal(rec.body.Bytes(), &e) != nil || e.Error == "" {
			e.Error = http.StatusText(rec.status)
		}
		return nil, &apiError{Status: rec.status, Msg: e.Error, Field: e.Field}
	}
	return rec, nil
}
