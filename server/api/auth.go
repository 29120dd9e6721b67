package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"lachan/internal/atomicfile"
	"lachan/internal/wire"
	"lachan/server/store"
	"lachan/server/unit"
)

// Roles an operator token can have.
const (
	// RoleAdmin sees and changes everything.
	RoleAdmin = "admin"
	// RoleAnalyst (the SOC) reads everything.
	RoleAnalyst = "analyst"
	// RoleResponder (a unit's on-site force) reads its unit's subtree.
	RoleResponder = "responder"
	// RoleSensor may only send network records.
	RoleSensor = "sensor"
)

const kindToken = "token"

// Token is a stored operator credential; only its hash is kept.
type Token struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Unit    string    `json:"unit,omitempty"`
	Created time.Time `json:"created"`
}

// Principal is an authenticated caller.
type Principal struct {
	Name string
	Role string
	// Units the caller may see; nil means all.
	Units []string
}

// Tokens issues and checks operator tokens.
type Tokens struct {
	st    store.Store
	units *unit.Registry
}

// NewTokens returns a token keeper over st.
func NewTokens(st store.Store, units *unit.Registry) *Tokens { return &Tokens{st: st, units: units} }

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// Issue makes a new token and returns its secret text, shown only once.
func (t *Tokens) Issue(ctx context.Context, tok Token) (string, error) {
	switch tok.Role {
	case RoleAdmin, RoleAnalyst, RoleSensor:
	case RoleResponder:
		if _, err := t.units.Subtree(ctx, tok.Unit); err != nil {
			return "", fmt.Errorf("token for responder: %w", err)
		}
	default:
		return "", fmt.Errorf("unknown role %q", tok.Role)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	secret := "lct_" + base64.RawURLEncoding.EncodeToString(b[:])
	tok.Created = time.Now().UTC()
	doc, _ := json.Marshal(tok)
	if _, err := t.st.PutEntity(ctx, kindToken, hashToken(secret), doc, 0); err != nil {
		return "", fmt.Errorf("store token: %w", err)
	}
	return secret, nil
}

// EnsureAdmin makes an admin token on first start and writes it to path
// (mode 0600) for the CLI on the same machine; later starts keep it.
func (t *Tokens) EnsureAdmin(ctx context.Context, path string) error {
	return t.Ensure(ctx, path, Token{Name: "admin", Role: RoleAdmin})
}

// Ensure makes tok on first start and writes its secret to path (mode
// 0600) for a program on the same machine; later starts keep it while it
// still authenticates with tok's role.
func (t *Tokens) Ensure(ctx context.Context, path string, tok Token) error {
	if b, err := os.ReadFile(path); err == nil {
		if p, err := t.authenticate(ctx, strings.TrimSpace(string(b))); err == nil && p.Role == tok.Role {
			return nil
		}
	}
	secret, err := t.Issue(ctx, tok)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, []byte(secret+"\n"), 0o600)
}

var errUnauthenticated = errors.New("unauthenticated")

func (t *Tokens) authenticate(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, "lct_") {
		return Principal{}, errUnauthenticated
	}
	// The lookup is by hash, so timing reveals nothing about the secret.
	doc, _, err := t.st.GetEntity(ctx, kindToken, hashToken(secret))
	if err != nil {
		return Principal{}, errUnauthenticated
	}
	var tok Token
	if err := json.Unmarshal(doc, &tok); err != nil {
		return Principal{}, fmt.Errorf("stored token: %w", err)
	}
	p := Principal{Name: tok.Name, Role: tok.Role}
	if tok.Role == RoleResponder {
		if p.Units, err = t.units.Subtree(ctx, tok.Unit); err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

// operator wraps a handler with bearer-token authentication.
func (s *Server) operator(h func(http.ResponseWriter, *http.Request, Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		secret, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lachan"`)
			writeError(w, http.StatusUnauthorized, wire.Error{Error: "missing bearer token"})
			return
		}
		p, err := s.d.Tokens.authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lachan"`)
			writeError(w, http.StatusUnauthorized, wire.Error{Error: "invalid token"})
			return
		}
		h(w, r, p)
	}
}

func (p Principal) can(roles ...string) bool {
	for _, r := range roles {
		if p.Role == r {
			return true
		}
	}
	return false
}
