package enroll

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"lachan/agent/client"
	"lachan/internal/tlsconf"
	"lachan/internal/wire"
)

// ErrFingerprint means the server sent a CA whose SHA-256 is not the one
// the operator gave.
var ErrFingerprint = errors.New("CA fingerprint mismatch")

// ErrUnreachable means no answer came from the server: down, a wrong
// address, or a firewall between. It is worth trying again later.
var ErrUnreachable = errors.New("server unreachable")

// ParseFingerprint accepts a SHA-256 in hex, upper or lower case, with or
// without the colons and spaces some tools print, and returns it as 64
// lower-case hex digits.
func ParseFingerprint(s string) (string, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ':' || r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
	if len(clean) != 2*sha256.Size {
		return "", fmt.Errorf("--ca-sha256 %q: want the 64 hex digits `lachan ca` prints on the server, got %d", s, len(clean))
	}
	if _, err := hex.DecodeString(clean); err != nil {
		return "", fmt.Errorf("--ca-sha256 %q: not hexadecimal (`lachan ca` on the server prints it)", s)
	}
	return clean, nil
}

// ServerURL turns HOST:PORT (or an https:// URL) into the agent's
// server.url.
func ServerURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("--server HOST:PORT is required")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("--server %q: %w", s, err)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("--server %q: the agent speaks HTTPS only", s)
	}
	if u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" {
		return "", fmt.Errorf("--server %q: want HOST:PORT, e.g. soc.hcm.gov.vn:8443", s)
	}
	return "https://" + u.Host, nil
}

// FetchCA asks server (a server.url) for its CA certificate and returns it
// in PEM when its SHA-256 is fingerprint (ParseFingerprint's form).
func FetchCA(ctx context.Context, server, fingerprint string, o client.Options) ([]byte, error) {
	proxy, err := o.ProxyFunc()
	if err != nil {
		return nil, err
	}
	var peer []*x509.Certificate
	tc := tlsconf.New()
	// Nothing to verify against yet: what comes back is checked by its
	// hash below, and no secret is sent on this connection.
	tc.InsecureSkipVerify = true
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		peer = cs.PeerCertificates
		return nil
	}
	hc := &http.Client{
		Transport: &http.Transport{Proxy: proxy, TLSClientConfig: tc, TLSHandshakeTimeout: 15 * time.Second, DisableKeepAlives: true},
		Timeout:   30 * time.Second,
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+wire.PathCA, nil)
	if err != nil {
		return nil, fmt.Errorf("--server %s: %w", server, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, server, unwrapURL(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s answers 404 for %s: not a Lá Chắn server, or one older than this agent (upgrade it, or give server.ca_file)", server, wire.PathCA)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("%w: %s answered %s", ErrUnreachable, server, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s answered %s for its CA certificate", server, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: reading the CA certificate: %v", ErrUnreachable, server, err)
	}
	ca, err := checkCA(body, fingerprint)
	if err != nil {
		return nil, err
	}
	if err := checkLeaf(server, peer, ca); err != nil {
		return nil, err
	}
	return body, nil
}

// checkCA parses the PEM and compares its hash with the fingerprint.
func checkCA(body []byte, fingerprint string) (*x509.Certificate, error) {
	blk, _ := pem.Decode(body)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("the server's answer holds no PEM certificate")
	}
	sum := sha256.Sum256(blk.Bytes)
	if got := hex.EncodeToString(sum[:]); got != fingerprint {
		return nil, fmt.Errorf("%w: the server's CA has SHA-256 %s, not %s.\n"+
			"Kiểm tra lại dấu vân tay (lệnh `lachan ca` trên máy chủ in ra); nếu đúng, có thiết bị chặn kết nối giữa máy này và máy chủ: đừng ghi danh, báo đội SOC.\n"+
			"Check the fingerprint (`lachan ca` on the server prints it); if it is right, something between this PC and the server intercepts the connection: do not enroll, tell the SOC",
			ErrFingerprint, got, fingerprint)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the server's CA certificate: %w", err)
	}
	return ca, nil
}

// checkLeaf verifies the connection the CA came over against it, so that
// a certificate that does not name the address used is reported now, with
// what to do, rather than as a TLS error at enrollment.
func checkLeaf(server string, peer []*x509.Certificate, ca *x509.Certificate) error {
	if len(peer) == 0 {
		return errors.New("the server presented no certificate")
	}
	u, _ := url.Parse(server)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range peer[1:] {
		inter.AddCert(c)
	}
	_, err := peer[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: u.Hostname()})
	var he x509.HostnameError
	if errors.As(err, &he) {
		names := append([]string{}, peer[0].DNSNames...)
		for _, ip := range peer[0].IPAddresses {
			names = append(names, ip.String())
		}
		return fmt.Errorf("the server's certificate does not name %q (it names %s): use one of those in --server, or add %q to api.hostnames in /etc/lachan/server.yml on the server and restart it",
			u.Hostname(), strings.Join(names, ", "), u.Hostname())
	}
	if err != nil {
		return fmt.Errorf("the server's certificate does not verify against its own CA: %w", err)
	}
	return nil
}

// unwrapURL drops net/http's "Get URL:" prefix, which repeats the address.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return fmt.Errorf("%s %s: %w", op.Op, op.Addr, op.Err)
	}
	return err
}
