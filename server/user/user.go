package user

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"lachan/server/store"
)

// Entity kinds.
const (
	KindUser    = "user"
	KindSession = "session"
)

// Errors a caller tells apart.
var (
	// ErrBadLogin: a wrong name, password or code, or a disabled account;
	// which one is not said.
	ErrBadLogin = errors.New("wrong name, password or one-time code")
	// ErrNeedsCode: the password was right and the account has a second
	// factor, but no code came with it.
	ErrNeedsCode = errors.New("a one-time code from the authenticator app is needed")
	// ErrNeedsTOTP: the account's role needs a second factor and it has
	// none enrolled.
	ErrNeedsTOTP = errors.New("this account's role needs a second factor and none is enrolled")
	// ErrExists: an account of that name exists.
	ErrExists = errors.New("account exists")
	// ErrWeakPassword: a new password was refused.
	ErrWeakPassword = errors.New("password refused")
	// ErrBadName: a name accounts cannot have.
	ErrBadName = errors.New("account name: 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter")
	// ErrSession: the session is unknown, ended or expired; the error
	// says which of ended or expired, never whether a secret was close.
	ErrSession = errors.New("session")
)

// User is an account. Hash, TOTPSecret and TOTPLast never leave the
// server (Public strips them).
type User struct {
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	Units      []string  `json:"units,omitempty"`
	Email      string    `json:"email,omitempty"`
	Disabled   bool      `json:"disabled,omitempty"`
	MustChange bool      `json:"must_change,omitempty"`
	HasTOTP    bool      `json:"totp"`
	Created    time.Time `json:"created"`
	// PasswordSet is when the password was last set, by anyone.
	PasswordSet time.Time `json:"password_set"`
	LastLogin   time.Time `json:"last_login,omitzero"`

	Hash       string `json:"hash,omitempty"`
	TOTPSecret []byte `json:"totp_secret,omitempty"`
	// TOTPLast is the step of the last code accepted; a code is good once.
	TOTPLast uint64 `json:"totp_last,omitempty"`
}

// Public is u without its secrets.
func (u User) Public() User {
	u.Hash, u.TOTPSecret, u.TOTPLast = "", nil, 0
	return u
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

// CheckName refuses a name accounts cannot have.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q: %w", name, ErrBadName)
	}
	return nil
}

// hashing bounds how many argon2id hashes run at once: each takes
// Argon2.MemoryKiB, and a flood of logins must not take the server's
// memory.
const hashing = 4

// Manager keeps accounts and sessions in a store. It is safe for
// concurrent use.
type Manager struct {
	cfg   Config
	st    store.Store
	now   func() time.Time
	sem   chan struct{}
	limit *limits
	// dummy is verified against when the account does not exist, so that
	// the answer takes as long as for one that does.
	dummyOnce sync.Once
	dummy     string
}

// New returns a manager over st; now nil is time.Now.
func New(cfg Config, st store.Store, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{cfg: cfg, st: st, now: now, sem: make(chan struct{}, hashing), limit: newLimits(cfg, now)}
}

// Config is the manager's configuration.
func (m *Manager) Config() Config { return m.cfg }

// NeedsTOTP reports whether role's accounts need a second factor.
func (m *Manager) NeedsTOTP(role string) bool { return slices.Contains(m.cfg.TOTPRoles, role) }

func (m *Manager) hash(ctx context.Context, pw string) (string, error) {
	if err := m.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-m.sem }()
	return hashPassword(pw, m.cfg.Argon2)
}

func (m *Manager) verify(ctx context.Context, pw, h string) (bool, error) {
	if err := m.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-m.sem }()
	return verifyPassword(pw, h)
}

func (m *Manager) acquire(ctx context.Context) error {
	select {
	case m.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Get reads an account, secrets included.
func (m *Manager) Get(ctx context.Context, name string) (User, uint64, error) {
	doc, ver, err := m.st.GetEntity(ctx, KindUser, name)
	if err != nil {
		return User{}, 0, fmt.Errorf("account %s: %w", name, err)
	}
	var u User
	if err := json.Unmarshal(doc, &u); err != nil {
		return User{}, 0, fmt.Errorf("stored account %s: %w", name, err)
	}
	return u, ver, nil
}

func (m *Manager) put(ctx context.Context, u User, ver uint64) error {
	u.HasTOTP = len(u.TOTPSecret) > 0
	doc, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if _, err := m.st.PutEntity(ctx, KindUser, u.Name, doc, ver); err != nil {
		return fmt.Errorf("store account %s: %w", u.Name, err)
	}
	return nil
}

// Added is what `users add` prints once: the one-time password and, for
// a role that needs one, the second factor.
type Added struct {
	User     User   `json:"user"`
	Password string `json:"password"`
	TOTP     *TOTP  `json:"totp,omitempty"`
}

// TOTP is an enrolled second factor, shown once.
type TOTP struct {
	URI    string `json:"uri"`
	Secret string `json:"secret"`
}

// Add makes an account with a one-time password that must be changed at
// first login. The caller has checked role and units.
func (m *Manager) Add(ctx context.Context, u User) (Added, error) {
	if err := CheckName(u.Name); err != nil {
		return Added{}, err
	}
	pw := oneTimePassword()
	h, err := m.hash(ctx, pw)
	if err != nil {
		return Added{}, err
	}
	now := m.now().UTC()
	u = User{Name: u.Name, Role: u.Role, Units: u.Units, Email: u.Email, MustChange: true, Created: now, PasswordSet: now, Hash: h}
	var t *TOTP
	if m.NeedsTOTP(u.Role) {
		var tt TOTP
		u.TOTPSecret, tt = newTOTP(u.Name)
		t = &tt
	}
	if err := m.put(ctx, u, 0); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Added{}, fmt.Errorf("account %s: %w", u.Name, ErrExists)
		}
		return Added{}, err
	}
	return Added{User: u.Public(), Password: pw, TOTP: t}, nil
}

func newTOTP(name string) ([]byte, TOTP) {
	secret := make([]byte, 20) // 160 bits, RFC 4226's recommendation
	rand.Read(secret)
	return secret, TOTP{URI: otpauthURI("Lá Chắn", name, secret), Secret: b32.EncodeToString(secret)}
}

// List returns every account without its secrets, by name.
func (m *Manager) List(ctx context.Context) ([]User, error) {
	ents, err := m.st.ListEntities(ctx, KindUser)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(ents))
	for _, e := range ents {
		var u User
		if err := json.Unmarshal(e.Doc, &u); err != nil {
			return nil, fmt.Errorf("stored account %s: %w", e.ID, err)
		}
		out = append(out, u.Public())
	}
	return out, nil
}

// change reads an account, applies f and writes it back, retrying on a
// concurrent write.
func (m *Manager) change(ctx context.Context, name string, f func(*User) error) (User, error) {
	for {
		u, ver, err := m.Get(ctx, name)
		if err != nil {
			return User{}, err
		}
		if err := f(&u); err != nil {
			return User{}, err
		}
		err = m.put(ctx, u, ver)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return u, err
	}
}

// Disable stops an account from logging in and ends its sessions. The
// account stays, so that what it did keeps a name.
func (m *Manager) Disable(ctx context.Context, name string) (User, error) {
	u, err := m.change(ctx, name, func(u *User) error { u.Disabled = true; return nil })
	if err != nil {
		return User{}, err
	}
	return u.Public(), m.endSessions(ctx, name, "")
}

// Enable lets a disabled account log in again with the password and second
// factor it had. Sessions ended by Disable stay ended; an administrator who
// doubts the old credentials resets the password as well.
func (m *Manager) Enable(ctx context.Context, name string) (User, error) {
	u, err := m.change(ctx, name, func(u *User) error { u.Disabled = false; return nil })
	if err != nil {
		return User{}, err
	}
	return u.Public(), nil
}

// ResetPassword gives an account a new one-time password, to be changed
// at the next login, and ends its sessions.
func (m *Manager) ResetPassword(ctx context.Context, name string) (string, error) {
	pw := oneTimePassword()
	h, err := m.hash(ctx, pw)
	if err != nil {
		return "", err
	}
	if _, err := m.change(ctx, name, func(u *User) error {
		u.Hash, u.MustChange, u.PasswordSet = h, true, m.now().UTC()
		return nil
	}); err != nil {
		return "", err
	}
	return pw, m.endSessions(ctx, name, "")
}

// EnrollTOTP gives an account a new second factor, replacing any it had,
// and ends its sessions.
func (m *Manager) EnrollTOTP(ctx context.Context, name string) (TOTP, error) {
	var t TOTP
	if _, err := m.change(ctx, name, func(u *User) error {
		u.TOTPSecret, t = newTOTP(u.Name)
		u.TOTPLast = 0
		return nil
	}); err != nil {
		return TOTP{}, err
	}
	return t, m.endSessions(ctx, name, "")
}

// Exists reports whether an account of that name exists (disabled ones
// too: a case stays with the person it was given to).
func (m *Manager) Exists(ctx context.Context, name string) (bool, error) {
	_, _, err := m.Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
