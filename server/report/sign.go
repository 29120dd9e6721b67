package report

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SigSuffix is added to a report's file name for its signature.
const SigSuffix = ".jws"

// jwsHeader is the protected header: EdDSA (RFC 8037) and the key's ID,
// so that a verifier holding several keys picks the right one.
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

var b64 = base64.RawURLEncoding

// Sign returns a compact JWS with a detached payload (RFC 7515, appendix
// F) over doc: "header..signature". Ed25519 signatures are deterministic,
// so the same file gives the same signature.
func Sign(doc []byte, key ed25519.PrivateKey) []byte {
	h, _ := json.Marshal(jwsHeader{Alg: "EdDSA", Kid: KeyID(key.Public().(ed25519.PublicKey)), Typ: "lachan-report"})
	head := b64.EncodeToString(h)
	sig := ed25519.Sign(key, []byte(head+"."+b64.EncodeToString(doc)))
	return []byte(head + ".." + b64.EncodeToString(sig) + "\n")
}

// Errors of Verify.
var (
	ErrSignatureForm = errors.New("not a detached JWS")
	ErrWrongKey      = errors.New("signed by another key")
	ErrBadSignature  = errors.New("the signature does not match the file: it was changed after signing")
)

// Verify checks a detached JWS over doc with pub.
func Verify(doc, jws []byte, pub ed25519.PublicKey) error {
	parts := strings.Split(strings.TrimSpace(string(jws)), ".")
	if len(parts) != 3 || parts[1] != "" {
		return fmt.Errorf("%w: want header..signature", ErrSignatureForm)
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return fmt.Errorf("%w: header: %v", ErrSignatureForm, err)
	}
	var h jwsHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return fmt.Errorf("%w: header: %v", ErrSignatureForm, err)
	}
	if h.Alg != "EdDSA" {
		return fmt.Errorf("%w: alg %q, want EdDSA", ErrSignatureForm, h.Alg)
	}
	if want := KeyID(pub); h.Kid != want {
		return fmt.Errorf("%w: key %s, want %s", ErrWrongKey, h.Kid, want)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is not %d bytes of base64url", ErrSignatureForm, ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, []byte(parts[0]+"."+b64.EncodeToString(doc)), sig) {
		return ErrBadSignature
	}
	return nil
}
