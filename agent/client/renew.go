package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"lachan/internal/atomicfile"
	"lachan/internal/wire"
)

// nextSuffix marks a renewed key and certificate written but not yet in
// place.
const nextSuffix = ".next"

// newKey makes a P-256 key (PEM) and a certificate request for it.
func newKey(cn string) (keyPEM []byte, csrPEM string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("agent key: %w", err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		return nil, "", fmt.Errorf("certificate request: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})), nil
}

// RenewDue reports whether the certificate should be renewed now: in the
// last third of its life, or within 30 days of expiry, whichever is first.
func (c *Client) RenewDue(now time.Time) bool {
	if c.NotAfter.IsZero() {
		return false
	}
	left := c.NotAfter.Sub(now)
	return left < c.NotAfter.Sub(c.NotBefore)/3 || left < 30*24*time.Hour
}

// Renew gets a certificate for a new key while the current one is still
// valid, stores both and switches to them. A crash midway leaves either
// the old pair in use or the new pair ready to be promoted by Load.
func (c *Client) Renew(ctx context.Context) error {
	keyPEM, csrPEM, err := newKey(c.ID.AgentID)
	if err != nil {
		return err
	}
	var resp wire.RenewResponse
	if err := c.post(ctx, wire.PathRenew, wire.RenewRequest{CSR: csrPEM}, &resp); err != nil {
		return fmt.Errorf("renew certificate: %w", err)
	}
	pair, err := tls.X509KeyPair([]byte(resp.Cert), keyPEM)
	if err != nil {
		return fmt.Errorf("renewed certificate does not fit the new key: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(c.stateDir, keyFile+nextSuffix), keyPEM, 0o600); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(c.stateDir, certFile+nextSuffix), []byte(resp.Cert), 0o644); err != nil {
		return err
	}
	if err := promoteNext(c.stateDir); err != nil {
		return err
	}
	c.http = httpClient(c.pool, &pair, c.opts)
	c.NotBefore, c.NotAfter = pair.Leaf.NotBefore, pair.Leaf.NotAfter
	return nil
}

// promoteNext moves a complete renewed pair into place. The key goes
// first; a crash between the two renames leaves the certificate's .next
// file, which the next call moves too.
func promoteNext(stateDir string) error {
	keyNext, certNext := filepath.Join(stateDir, keyFile+nextSuffix), filepath.Join(stateDir, certFile+nextSuffix)
	_, kerr := os.Stat(keyNext)
	_, cerr := os.Stat(certNext)
	switch {
	case errors.Is(kerr, os.ErrNotExist) && errors.Is(cerr, os.ErrNotExist):
		return nil
	case kerr == nil && cerr == nil:
		if _, err := tls.LoadX509KeyPair(certNext, keyNext); err != nil {
			// A pair that does not fit was never complete: keep the old one.
			os.Remove(keyNext)
			os.Remove(certNext)
			return nil
		}
		if err := os.Rename(keyNext, filepath.Join(stateDir, keyFile)); err != nil {
			return fmt.Errorf("promote renewed key: %w", err)
		}
		fallthrough
	case errors.Is(kerr, os.ErrNotExist) && cerr == nil:
		if err := os.Rename(certNext, filepath.Join(stateDir, certFile)); err != nil {
			return fmt.Errorf("promote renewed certificate: %w", err)
		}
		return syncDir(stateDir)
	default:
		// Only a key was written: the renewal never completed.
		os.Remove(keyNext)
		return nil
	}
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }
