package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Webhook request headers.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256>"; the
	// HMAC's key is the channel's secret and its message is the
	// timestamp, a dot, and the request body exactly as sent.
	HeaderSignature = "X-Lachan-Signature"
	// HeaderDelivery is the message ID, the same on every retry.
	HeaderDelivery = "X-Lachan-Delivery"
)

// MinSecretLen is the shortest webhook key accepted, in bytes.
const MinSecretLen = 32

// Sign returns the signature header's value for body at t.
func Sign(key, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors Verify returns.
var (
	ErrBadSignature = errors.New("signature does not match")
	ErrStale        = errors.New("signature timestamp too far from now")
)

// Verify checks a signature header against body and key, and that its
// timestamp is within tolerance of now; receivers call it (or do the same
// in their own language) before trusting a request.
func Verify(key, body []byte, header string, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: header %q is not t=…,v1=…", ErrBadSignature, header)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w (%s)", ErrStale, d.Round(time.Second))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}

// readSecret reads a webhook key file; surrounding white space is not
// part of the key.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret_file: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinSecretLen {
		return nil, permanent{fmt.Errorf("secret_file %s holds %d bytes, fewer than %d", path, len(b), MinSecretLen)}
	}
	return b, nil
}

// sendWebhook posts m as JSON to the channel's URL, signed. A 2xx answer
// is delivery; 408, 429 and 5xx are tried again; any other answer is
// final.
func sendWebhook(ctx context.Context, ch Channel, m Message, now time.Time) error {
	u, err := url.Parse(ch.URL)
	if err != nil || u.Scheme != "https" {
		return permanent{fmt.Errorf("webhook url %q is not https", ch.URL)}
	}
	key, err := readSecret(ch.SecretFile)
	if err != nil {
		return err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return permanent{err}
	}
	tc, err := tlsConfig(ch, u.Hostname())
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, Proxy: http.ProxyFromEnvironment},
		// A redirect would carry the signed body somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ch.URL, bytes.NewReader(body))
	if err != nil {
		return permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lachan-notify/1")
	req.Header.Set(HeaderDelivery, m.ID)
	req.Header.Set(HeaderSignature, Sign(key, body, now))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == 408 || resp.StatusCode == 429 || resp.StatusCode >= 500:
		return fmt.Errorf("webhook %s: %s: %s", u.Host, resp.Status, strings.TrimSpace(string(msg)))
	}
	return permanent{fmt.Errorf("webhook %s: %s: %s", u.Host, resp.Status, strings.TrimSpace(string(msg)))}
}
