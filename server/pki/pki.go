// Package pki keeps the server's certificate authority: made in the data
// directory on first start, it signs the server's TLS certificate and the
// client certificates agents receive at enrollment. The CA key never leaves
// the data directory.
package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"

	"lachan/internal/atomicfile"
	"lachan/internal/tlsconf"
	"slices"
	"time"
)

// File names inside the PKI directory.
const (
	CAFile     = "ca.pem"
	caKeyFile  = "ca.key"
	serverCert = "server.pem"
	serverKey  = "server.key"
	bundleKey  = "bundle.key"
	// AuditKeyFile signs the audit trail's checkpoints.
	AuditKeyFile = "audit.key"
)

// AgentCertValidity is how long an agent's client certificate is valid.
const AgentCertValidity = 365 * 24 * time.Hour

// SenderCertValidity is how long a lower-tier server's client certificate
// (SignSender) is valid.
const SenderCertValidity = 365 * 24 * time.Hour

// The organization of a client certificate says what it was issued for,
// so that an agent's certificate can never pass as a lower tier's, or the
// other way round, whatever its common name.
const (
	AgentOrg  = "Lá Chắn agent"
	SenderOrg = "Lá Chắn sender"
)

// Authority is a loaded CA with the server certificate it issued.
type Authority struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
	server tls.Certificate
	bundle ed25519.PrivateKey
	audit  ed25519.PrivateKey
	report ed25519.PrivateKey
}

// LoadOrCreate loads the CA from dir or makes one, and (re)issues the
// server certificate when it is missing, expiring within 30 days, or does
// not name every host in hosts.
func LoadOrCreate(dir string, hosts []string) (*Authority, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki dir %s: %w", dir, err)
	}
	a := &Authority{}
	var err error
	if err = a.loadOrCreateCA(dir); err != nil {
		return nil, err
	}
	if err = a.loadOrIssueServer(dir, hosts); err != nil {
		return nil, err
	}
	if a.bundle, err = loadOrCreateKey(filepath.Join(dir, bundleKey), "bundle key"); err != nil {
		return nil, err
	}
	if a.audit, err = loadOrCreateKey(filepath.Join(dir, AuditKeyFile), "audit key"); err != nil {
		return nil, err
	}
	if a.report, err = loadOrCreateKey(filepath.Join(dir, ReportKeyFile), "report key"); err != nil {
		return nil, err
	}
	return a, nil
}

// loadOrCreateKey keeps an Ed25519 key (the bundle key, the audit key)
// in a PKCS #8 PEM file of mode 0600, made on first use.
func loadOrCreateKey(path, what string) (ed25519.PrivateKey, error) {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if err := atomicfile.Write(path, pemBlock("PRIVATE KEY", der), 0o600); err != nil {
			return nil, err
		}
		return priv, nil
	}
	return readKey(path, what)
}

// readKey reads an Ed25519 key loadOrCreateKey made.
func readKey(path, what string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s %s: no PEM block", what, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s %s: not an Ed25519 key", what, path)
	}
	return priv, nil
}

// BundleSigner is the key that signs rule bundles.
func (a *Authority) BundleSigner() ed25519.PrivateKey { return a.bundle }

// BundlePublicKey is what agents pin to verify rule bundles.
func (a *Authority) BundlePublicKey() ed25519.PublicKey { return a.bundle.Public().(ed25519.PublicKey) }

// AuditSigner is the key that signs the audit trail's checkpoints.
func (a *Authority) AuditSigner() ed25519.PrivateKey { return a.audit }

// ReportKeyFile is the key that signs auditors' reports: a key of its own,
// so that a report's signature says nothing about rule bundles, the audit
// trail or forwarded incidents, and each key can be replaced alone.
const ReportKeyFile = "report.key"

// ReportSigner signs reports (package report).
func (a *Authority) ReportSigner() ed25519.PrivateKey { return a.report }

// ReportPublicKey reads the public half of the report key of an existing
// PKI directory (for `lachan report verify` on the server's machine).
func ReportPublicKey(dir string) (ed25519.PublicKey, error) {
	k, err := readKey(filepath.Join(dir, ReportKeyFile), "report key")
	if err != nil {
		return nil, err
	}
	return k.Public().(ed25519.PublicKey), nil
}

// AuditPublicKey reads the public half of the audit key of an existing
// PKI directory, for verifying an exported trail on the server's machine;
// it never makes a key.
func AuditPublicKey(dir string) (ed25519.PublicKey, error) {
	k, err := readKey(filepath.Join(dir, AuditKeyFile), "audit key")
	if err != nil {
		return nil, err
	}
	return k.Public().(ed25519.PublicKey), nil
}

// OpenCA loads the CA of an existing PKI directory, for commands that
// issue certificates outside the running server; unlike LoadOrCreate it
// never makes a new CA.
func OpenCA(dir string) (*Authority, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile)
	if _, err := os.Stat(certPath); err != nil {
		return nil, fmt.Errorf("no certificate authority in %s (has lachan serve run with this data_dir?): %w", dir, err)
	}
	cert, key, certPEM, err := loadPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("load ca: %w", err)
	}
	return &Authority{ca: cert, caKey: key, caPEM: certPEM}, nil
}

func (a *Authority) loadOrCreateCA(dir string) error {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile)
	if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("ca key: %w", err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial(),
			Subject:               pkix.Name{CommonName: "Lá Chắn CA", Organization: []string{"Lá Chắn"}},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().AddDate(10, 0, 0),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
			MaxPathLenZero:        true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return fmt.Errorf("ca certificate: %w", err)
		}
		if err := writeKey(keyPath, key); err != nil {
			return err
		}
		if err := atomicfile.Write(certPath, pemBlock("CERTIFICATE", der), 0o644); err != nil {
			return err
		}
	}
	ca, err := OpenCA(dir)
	if err != nil {
		return err
	}
	a.ca, a.caKey, a.caPEM = ca.ca, ca.caKey, ca.caPEM
	return nil
}

func (a *Authority) loadOrIssueServer(dir string, hosts []string) error {
	certPath, keyPath := filepath.Join(dir, serverCert), filepath.Join(dir, serverKey)
	if cert, _, _, err := loadPair(certPath, keyPath); err == nil && time.Until(cert.NotAfter) > 30*24*time.Hour && coversHosts(cert, hosts) {
		pair, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return fmt.Errorf("load server certificate: %w", err)
		}
		a.server = pair
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "lachan-server", Organization: []string{"Lá Chắn"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.ca, &key.PublicKey, a.caKey)
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	if err := atomicfile.Write(certPath, pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return fmt.Errorf("load server certificate: %w", err)
	}
	a.server = pair
	return nil
}

func coversHosts(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(c.IPAddresses, func(x net.IP) bool { return x.Equal(ip) }) {
				return false
			}
		} else if !slices.Contains(c.DNSNames, h) {
			return false
		}
	}
	return true
}

// CAPEM returns the CA certificate in PEM form.
func (a *Authority) CAPEM() []byte { return bytes.Clone(a.caPEM) }

// Fingerprint is the SHA-256 of the CA certificate, hex, for operators to
// check out of band.
func (a *Authority) Fingerprint() string {
	sum := sha256.Sum256(a.ca.Raw)
	return hex.EncodeToString(sum[:])
}

// ServerTLS is the server's TLS configuration: TLS 1.3, or TLS 1.2 with
// ECDHE and AEAD suites only (tlsconf.New), client
// certificates verified against the CA when given (enrollment comes
// without one; every other agent endpoint requires it).
func (a *Authority) ServerTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(a.ca)
	tc := tlsconf.New()
	tc.Certificates = []tls.Certificate{a.server}
	tc.ClientAuth = tls.VerifyClientCertIfGiven
	tc.ClientCAs = pool
	return tc
}

// SignAgent checks a PEM certificate request and issues a client
// certificate for agentID in unit; the request's own subject is ignored.
func (a *Authority) SignAgent(csrPEM, agentID, unit string) (string, error) {
	return a.signClient(csrPEM, pkix.Name{CommonName: agentID, OrganizationalUnit: []string{unit}, Organization: []string{AgentOrg}}, AgentCertValidity)
}

// SignSender checks a PEM certificate request from a lower-tier server
// and issues the client certificate it presents to this server's TAXII
// receiver as sender name; the request's own subject is ignored.
func (a *Authority) SignSender(csrPEM, name string) (string, error) {
	if name == "" {
		return "", errors.New("sender certificate: the sender's name is empty")
	}
	return a.signClient(csrPEM, pkix.Name{CommonName: name, Organization: []string{SenderOrg}}, SenderCertValidity)
}

// signClient issues a client certificate for the key of a PEM request.
func (a *Authority) signClient(csrPEM string, subject pkix.Name, validity time.Duration) (string, error) {
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return "", errors.New("csr: not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return "", fmt.Errorf("csr signature: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.ca, csr.PublicKey, a.caKey)
	if err != nil {
		return "", fmt.Errorf("sign %s certificate: %w", subject.Organization[0], err)
	}
	return string(pemBlock("CERTIFICATE", der)), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("pki: no randomness: %v", err))
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	return atomicfile.Write(path, pemBlock("EC PRIVATE KEY", der), 0o600)
}

func loadPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, nil, nil, fmt.Errorf("%s: no PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, nil, fmt.Errorf("%s: no PEM key", keyPath)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	return cert, key, certPEM, nil
}

// NewClientRequest makes a P-256 key and a certificate request for it
// naming cn, both PEM: what a lower-tier server keeps (the key, mode 0600)
// and sends to its upper tier to sign (SignSender).
func NewClientRequest(cn string) (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("client key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("client key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate request: %w", err)
	}
	return pemBlock("EC PRIVATE KEY", der), pemBlock("CERTIFICATE REQUEST", csr), nil
}
