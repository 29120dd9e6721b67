package forward

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"lachan/internal/atomicfile"
)

// SignatureHeader carries the detached JWS of a request or answer body.
const SignatureHeader = "X-Lachan-Signature"

// Sentinel errors of signature checks.
var (
	// ErrUnsigned: no signature came with the body.
	ErrUnsigned = errors.New("not signed")
	// ErrBadSignature: the signature is malformed or does not verify.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrUnknownKey: the signature names a key id nobody registered.
	ErrUnknownKey = errors.New("unknown signing key")
)

// jwsHeader is the protected header: EdDSA over the unencoded payload
// (RFC 7797), so the body is signed byte for byte as it travels.
type jwsHeader struct {
	Alg  string   `json:"alg"`
	B64  *bool    `json:"b64"`
	Crit []string `json:"crit"`
	Kid  string   `json:"kid"`
}

// maxJWS bounds a compact JWS header value.
const maxJWS = 4096

// Sign returns the detached compact JWS (header..signature) of payload,
// signed with key under key id kid.
func Sign(payload []byte, key ed25519.PrivateKey, kid string) string {
	f := false
	h, _ := json.Marshal(jwsHeader{Alg: "EdDSA", B64: &f, Crit: []string{"b64"}, Kid: kid})
	enc := base64.RawURLEncoding.EncodeToString(h)
	sig := ed25519.Sign(key, signingInput(enc, payload))
	return enc + ".." + base64.RawURLEncoding.EncodeToString(sig)
}

func signingInput(encHeader string, payload []byte) []byte {
	in := make([]byte, 0, len(encHeader)+1+len(payload))
	in = append(in, encHeader...)
	in = append(in, '.')
	return append(in, payload...)
}

// ParseJWS splits a detached compact JWS and checks its header; it returns
// the key id, the encoded header and the signature.
func ParseJWS(jws string) (kid, encHeader string, sig []byte, err error) {
	if strings.TrimSpace(jws) == "" {
		return "", "", nil, ErrUnsigned
	}
	if len(jws) > maxJWS {
		return "", "", nil, fmt.Errorf("%w: JWS longer than %d bytes", ErrBadSignature, maxJWS)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" {
		return "", "", nil, fmt.Errorf("%w: want a detached compact JWS (header..signature)", ErrBadSignature)
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: header: %v", ErrBadSignature, err)
	}
	var h jwsHeader
	dec := json.NewDecoder(bytes.NewReader(hb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return "", "", nil, fmt.Errorf("%w: header: %v", ErrBadSignature, err)
	}
	switch {
	case h.Alg != "EdDSA":
		return "", "", nil, fmt.Errorf("%w: alg %q (want EdDSA)", ErrBadSignature, h.Alg)
	case h.B64 == nil || *h.B64 || len(h.Crit) != 1 || h.Crit[0] != "b64":
		return "", "", nil, fmt.Errorf("%w: header must say b64 false with crit [b64]", ErrBadSignature)
	case h.Kid == "":
		return "", "", nil, fmt.Errorf("%w: header has no kid", ErrBadSignature)
	}
	sig, err = base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "", "", nil, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrBadSignature, ed25519.SignatureSize)
	}
	return h.Kid, parts[0], sig, nil
}

// Verify checks a detached JWS over payload with the key lookup gives for
// its key id, and returns that key id.
func Verify(jws string, payload []byte, lookup func(kid string) (ed25519.PublicKey, bool)) (string, error) {
	kid, enc, sig, err := ParseJWS(jws)
	if err != nil {
		return "", err
	}
	pub, ok := lookup(kid)
	if !ok {
		return kid, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	if !ed25519.Verify(pub, signingInput(enc, payload), sig) {
		return kid, fmt.Errorf("%w (key %q): the body was changed or signed with another key", ErrBadSignature, kid)
	}
	return kid, nil
}

// PublicKeyPrefix starts the text form of a public key in configuration.
const PublicKeyPrefix = "ed25519:"

// FormatPublicKey gives the text form operators copy into a receiver's
// configuration: "ed25519:" and the standard base64 of the 32 bytes.
func FormatPublicKey(pub ed25519.PublicKey) string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads the text form FormatPublicKey writes.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), PublicKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("public key %.20q…: must start with %q", s, PublicKeyPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key %.20q…: want %d bytes of base64", s, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// SigningKeyFile is the key's file name inside the forward directory.
const SigningKeyFile = "signing.key"

// LoadOrCreateKey loads the Ed25519 key that signs what this server sends
// upstream (and the indicators it publishes), making it on first use.
// It is kept apart from the rule-bundle key so either can be rotated alone.
func LoadOrCreateKey(dir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, SigningKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		if err := atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		return priv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("signing key %s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not an Ed25519 key", path)
	}
	return priv, nil
}
