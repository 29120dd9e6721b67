package sensor

import (
	"crypto/dsa" //nolint:staticcheck // old certificates still carry DSA keys; only their size is read
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxChainCerts bounds the certificates of one chain that are recorded;
// real chains have two to four, and the rest of a longer list is ignored.
const maxChainCerts = 10

var errCertList = errors.New("certificate list cut short")

// parseCertChain splits the body of a (TLS 1.2 or earlier) Certificate
// handshake message into its DER certificates, the sender's own first.
// The slices point into msg. It returns at most maxChainCerts of them,
// and errCertList, with the certificates read so far, when a length does
// not fit or a certificate is empty.
func parseCertChain(msg []byte) ([][]byte, error) {
	r := newReader(msg)
	list := r.vec24()
	if !list.ok {
		return nil, errCertList
	}
	var certs [][]byte
	for len(list.b) > 0 && len(certs) < maxChainCerts {
		c := list.vec24()
		if !list.ok || len(c.b) == 0 {
			return certs, errCertList
		}
		certs = append(certs, c.b)
	}
	return certs, nil
}

// certInfo is what the records say of one certificate, as Zeek's x509.log
// gives it under ECS x509 names.
type certInfo struct {
	der  []byte
	cert *x509.Certificate // nil when Go cannot parse it; the hashes still count
}

// x509Fields returns the ECS x509 fields of c, named without the
// "x509." prefix, with Zeek's x509.log values: OpenSSL's algorithm and
// curve names, the serial in upper-case hex, the subject alternative
// names in Zeek's order (DNS, URI, email, IP). Values are of the types
// events hold.
func (ci certInfo) x509Fields() map[string]any {
	m := map[string]any{}
	sha := sha1.Sum(ci.der)
	m["hash.sha1"] = strings.ToUpper(hex.EncodeToString(sha[:]))
	sum := sha256.Sum256(ci.der)
	m["hash.sha256"] = strings.ToUpper(hex.EncodeToString(sum[:]))
	c := ci.cert
	if c == nil {
		return m
	}
	m["version_number"] = strconv.Itoa(c.Version)
	if c.SerialNumber != nil {
		m["serial_number"] = fmt.Sprintf("%X", c.SerialNumber.Bytes())
	}
	m["subject.distinguished_name"] = distinguishedName(c.RawSubject)
	m["issuer.distinguished_name"] = distinguishedName(c.RawIssuer)
	m["not_before"] = c.NotBefore.UTC().Format(time.RFC3339Nano)
	m["not_after"] = c.NotAfter.UTC().Format(time.RFC3339Nano)
	m["signature_algorithm"] = signatureName(c)
	setKeyFields(m, c)
	var names []any
	for _, s := range c.DNSNames {
		names = append(names, text([]byte(s)))
	}
	for _, u := range c.URIs {
		names = append(names, text([]byte(u.String())))
	}
	for _, s := range c.EmailAddresses {
		names = append(names, text([]byte(s)))
	}
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) > 0 {
		m["alternative_names"] = names
	}
	if c.BasicConstraintsValid {
		m["basic_constraints.ca"] = c.IsCA
		if c.MaxPathLen > 0 || c.MaxPathLen == 0 && c.MaxPathLenZero {
			m["basic_constraints.path_len"] = int64(c.MaxPathLen)
		}
	}
	return m
}

func setKeyFields(m map[string]any, c *x509.Certificate) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		m["public_key_algorithm"] = "rsaEncryption"
		m["public_key_size"] = int64(k.N.BitLen())
		m["public_key_exponent"] = int64(k.E)
	case *ecdsa.PublicKey:
		m["public_key_algorithm"] = "id-ecPublicKey"
		m["public_key_size"] = int64(k.Curve.Params().BitSize)
		if name, ok := curveNames[k.Curve.Params().Name]; ok {
			m["public_key_curve"] = name
		}
	case ed25519.PublicKey:
		m["public_key_algorithm"] = "ED25519"
		m["public_key_size"] = int64(256)
	case *dsa.PublicKey:
		m["public_key_algorithm"] = "dsaEncryption"
		m["public_key_size"] = int64(k.P.BitLen())
	}
}

// curveNames are OpenSSL's names of the curves Go parses, as Zeek logs them.
var curveNames = map[string]string{
	"P-224": "secp224r1", "P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1",
}

// signatureNames are OpenSSL's long names of signature algorithms.
var signatureNames = map[x509.SignatureAlgorithm]string{
	x509.MD2WithRSA: "md2WithRSAEncryption", x509.MD5WithRSA: "md5WithRSAEncryption",
	x509.SHA1WithRSA: "sha1WithRSAEncryption", x509.SHA256WithRSA: "sha256WithRSAEncryption",
	x509.SHA384WithRSA: "sha384WithRSAEncryption", x509.SHA512WithRSA: "sha512WithRSAEncryption",
	x509.DSAWithSHA1: "dsaWithSHA1", x509.DSAWithSHA256: "dsa_with_SHA256",
	x509.ECDSAWithSHA1: "ecdsa-with-SHA1", x509.ECDSAWithSHA256: "ecdsa-with-SHA256",
	x509.ECDSAWithSHA384: "ecdsa-with-SHA384", x509.ECDSAWithSHA512: "ecdsa-with-SHA512",
	x509.SHA256WithRSAPSS: "rsassaPss", x509.SHA384WithRSAPSS: "rsassaPss", x509.SHA512WithRSAPSS: "rsassaPss",
	x509.PureEd25519: "ED25519",
}

func signatureName(c *x509.Certificate) string {
	if n, ok := signatureNames[c.SignatureAlgorithm]; ok {
		return n
	}
	return c.SignatureAlgorithm.String()
}
