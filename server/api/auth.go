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
	"regexp"
	"slices"
	"strings"
	"time"

	"lachan/internal/atomicfile"
	"lachan/internal/wire"
	"lachan/server/store"
	"lachan/server/unit"
	"lachan/server/user"
)

const (
	kindToken = "token"
	// kindTokenName maps a token's name to its hash, which keeps names
	// unique and lets a token be revoked by name.
	kindTokenName = "token-name"
	tokenPrefix   = "lct_"
)

// Token is a stored machine or script credential; only its hash is kept.
type Token struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Unit is the one unit of tokens issued before Units; read, not written.
	Unit    string    `json:"unit,omitempty"`
	Units   []string  `json:"units,omitempty"`
	Created time.Time `json:"created"`
	// Expires, when set, ends the token.
	Expires time.Time `json:"expires,omitzero"`
	// By is who issued it.
	By string `json:"by,omitempty"`
}

func (t Token) units() []string {
	if len(t.Units) == 0 && t.Unit != "" {
		return []string{t.Unit}
	}
	return t.Units
}

// Principal is an authenticated caller.
type Principal struct {
	Name string
	Role string
	// Units the caller may see, subtrees expanded; nil means all.
	Units []string
	// Kind is "token" or "session".
	Kind string
	// MustChange: a session whose one-time password is not changed yet;
	// it may do nothing but change it.
	MustChange bool
	// session is the session's secret, to end or keep it.
	session string
}

// Errors of token management.
var (
	ErrTokenExists = errors.New("a token of that name exists: revoke it first or choose another name")
	errTokenName   = errors.New("token name: 1 to 64 of a-z, A-Z, 0-9, '.', '_', '-'")
)

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

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

// CheckGrant refuses a role that does not exist and units that do not
// fit it: a responder needs at least one, admins, sensors and upper tiers
// have none, and every unit must exist.
func CheckGrant(ctx context.Context, units *unit.Registry, role string, us []string) error {
	if _, ok := rolePerms[role]; !ok {
		return fmt.Errorf("role %q: want one of %s", role, strings.Join(Roles(), ", "))
	}
	switch role {
	case RoleResponder:
		if len(us) == 0 {
			return errors.New("role responder: name its unit (--unit)")
		}
	case RoleAdmin, RoleSensor, RoleUpper:
		if len(us) > 0 {
			return fmt.Errorf("role %s: units do not apply", role)
		}
	}
	for _, u := range us {
		if _, err := units.Get(ctx, u); err != nil {
			return fmt.Errorf("unit %q: %w", u, err)
		}
	}
	return nil
}

// Issue makes a new token and returns its secret text, shown only once.
func (t *Tokens) Issue(ctx context.Context, tok Token) (string, error) {
	if !tokenNameRE.MatchString(tok.Name) {
		return "", fmt.Errorf("%q: %w", tok.Name, errTokenName)
	}
	tok.Units = tok.units()
	tok.Unit = ""
	if err := CheckGrant(ctx, t.units, tok.Role, tok.Units); err != nil {
		return "", fmt.Errorf("token %s: %w", tok.Name, err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := hashToken(secret)
	if _, err := t.st.PutEntity(ctx, kindTokenName, tok.Name, []byte(h), 0); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", fmt.Errorf("token %s: %w", tok.Name, ErrTokenExists)
		}
		return "", fmt.Errorf("store token name: %w", err)
	}
	tok.Created = time.Now().UTC()
	doc, _ := json.Marshal(tok)
	if _, err := t.st.PutEntity(ctx, kindToken, h, doc, 0); err != nil {
		t.st.DeleteEntity(ctx, kindTokenName, tok.Name)
		return "", fmt.Errorf("store token: %w", err)
	}
	return secret, nil
}

// List returns every token, by name.
func (t *Tokens) List(ctx context.Context) ([]Token, error) {
	ents, err := t.st.ListEntities(ctx, kindToken)
	if err != nil {
		return nil, err
	}
	out := make([]Token, 0, len(ents))
	for _, e := range ents {
		var tok Token
		if err := json.Unmarshal(e.Doc, &tok); err != nil {
			return nil, fmt.Errorf("stored token: %w", err)
		}
		tok.Units, tok.Unit = tok.units(), ""
		out = append(out, tok)
	}
	slices.SortFunc(out, func(a, b Token) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Revoke deletes the token of a name (and any older token of the same
// name from before names were unique). store.ErrNotFound if none.
func (t *Tokens) Revoke(ctx context.Context, name string) (Token, error) {
	ents, err := t.st.ListEntities(ctx, kindToken)
	if err != nil {
		return Token{}, err
	}
	var found *Token
	for _, e := range ents {
		var tok Token
		if json.Unmarshal(e.Doc, &tok) != nil || tok.Name != name {
			continue
		}
		if err := t.st.DeleteEntity(ctx, kindToken, e.ID); err != nil {
			return Token{}, fmt.Errorf("revoke token %s: %w", name, err)
		}
		found = &tok
	}
	if err := t.st.DeleteEntity(ctx, kindTokenName, name); err != nil {
		return Token{}, fmt.Errorf("revoke token %s: %w", name, err)
	}
	if found == nil {
		return Token{}, fmt.Errorf("token %s: %w", name, store.ErrNotFound)
	}
	return *found, nil
}

// EnsureAdmin makes an admin token on first start and writes it to path
// (mode 0600) for the CLI on the same machine; later starts keep it.
func (t *Tokens) EnsureAdmin(ctx context.Context, path string) error {
	return t.Ensure(ctx, path, Token{Name: "admin", Role: RoleAdmin})
}

// Ensure makes tok on first start and writes its secret to path (mode
// 0600) for a program on the same machine; later starts keep it while it
// still authenticates with tok's role, and otherwise replace the token
// of that name.
func (t *Tokens) Ensure(ctx context.Context, path string, tok Token) error {
	if b, err := os.ReadFile(path); err == nil {
		if p, err := t.authenticate(ctx, strings.TrimSpace(string(b))); err == nil && p.Role == tok.Role {
			return nil
		}
	}
	if _, err := t.Revoke(ctx, tok.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	secret, err := t.Issue(ctx, tok)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, []byte(secret+"\n"), 0o600)
}

// authError is a refused credential; its text is the 401's reason.
type authError struct{ reason string }

func (e *authError) Error() string { return e.reason }

var errUnauthenticated = &authError{"invalid token"}

func (t *Tokens) authenticate(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
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
	if !tok.Expires.IsZero() && !time.Now().Before(tok.Expires) {
		return Principal{}, &authError{fmt.Sprintf("token %s expired at %s", tok.Name, tok.Expires.UTC().Format(time.RFC3339))}
	}
	p := Principal{Name: tok.Name, Role: tok.Role, Kind: "token"}
	if p.Units, err = expandUnits(ctx, t.units, tok.units()); err != nil {
		return Principal{}, &authError{fmt.Sprintf("token %s: %v", tok.Name, err)}
	}
	return p, nil
}

// expandUnits is the union of the subtrees of us; none is nil (all).
func expandUnits(ctx context.Context, units *unit.Registry, us []string) ([]string, error) {
	if len(us) == 0 {
		return nil, nil
	}
	out := []string{}
	for _, u := range us {
		sub, err := units.Subtree(ctx, u)
		if err != nil {
			return nil, err
		}
		for _, id := range sub {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// bearer reads the Authorization header's secret.
func bearer(r *http.Request) (string, bool) {
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(secret), ok
}

// principal authenticates a token or a session secret.
func (s *Server) principal(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, user.SessionPrefix) {
		return s.d.Tokens.authenticate(ctx, secret)
	}
	if s.d.Users == nil {
		return Principal{}, &authError{"accounts are not enabled on this server"}
	}
	u, _, err := s.d.Users.Authenticate(ctx, secret)
	if errors.Is(err, user.ErrSession) {
		return Principal{}, &authError{err.Error()}
	}
	if err != nil {
		return Principal{}, err
	}
	p := Principal{Name: u.Name, Role: u.Role, Kind: "session", MustChange: u.MustChange, session: secret}
	if p.Units, err = expandUnits(ctx, s.d.Units, u.Units); err != nil {
		return Principal{}, &authError{fmt.Sprintf("account %s: %v", u.Name, err)}
	}
	return p, nil
}

// authenticate answers 401 with the reason and returns false when the
// request carries no good credential.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	secret, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="lachan"`)
		writeError(w, http.StatusUnauthorized, wire.Error{Error: "missing bearer token"})
		return Principal{}, false
	}
	p, err := s.principal(r.Context(), secret)
	var ae *authError
	switch {
	case errors.As(err, &ae):
		w.Header().Set("WWW-Authenticate", `Bearer realm="lachan"`)
		writeError(w, http.StatusUnauthorized, wire.Error{Error: ae.reason})
		return Principal{}, false
	case err != nil:
		s.fail(w, r, err)
		return Principal{}, false
	}
	return p, true
}
