package user

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"lachan/server/store"
)

// SessionPrefix starts every session secret, so that the API tells a
// session from a token without a lookup.
const SessionPrefix = "lcs_"

// Session is a login; only the hash of its secret is stored.
type Session struct {
	User     string    `json:"user"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"`
	// Expires is the absolute end: Created plus SessionAbsolute.
	Expires time.Time `json:"expires"`
	Source  string    `json:"source,omitempty"`
}

// SessionID is the stored key of a session secret.
func SessionID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Login is a login attempt.
type Login struct {
	Name, Password, TOTP string
	// Source is the address the attempt came from, for throttling.
	Source string
}

// Opened is a successful login: the session's secret, shown once.
type Opened struct {
	Secret  string
	User    User
	Session Session
}

// ThrottledError says that too many logins failed and when to try again.
type ThrottledError struct {
	What string
	Wait time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins %s; try again in %s", e.What, e.Wait.Round(time.Second))
}

// Login checks a name, password and code and opens a session. Failed
// attempts are throttled per account and per source address; over either
// limit the answer is a *ThrottledError whatever the password, so a
// guesser learns nothing from it.
func (m *Manager) Login(ctx context.Context, l Login) (Opened, error) {
	if err := m.limit.admit(l.Name, l.Source); err != nil {
		return Opened{}, err
	}
	u, _, err := m.Get(ctx, l.Name)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidID) {
		m.dummyOnce.Do(func() { m.dummy, _ = hashPassword(oneTimePassword(), m.cfg.Argon2) })
		m.verify(ctx, l.Password, m.dummy)
		m.limit.failed(l.Name, l.Source)
		return Opened{}, ErrBadLogin
	}
	if err != nil {
		return Opened{}, err
	}
	if len(l.Password) > MaxPassword {
		m.limit.failed(l.Name, l.Source)
		return Opened{}, ErrBadLogin
	}
	ok, err := m.verify(ctx, l.Password, u.Hash)
	if err != nil {
		return Opened{}, fmt.Errorf("account %s: %w", u.Name, err)
	}
	if !ok || u.Disabled {
		m.limit.failed(l.Name, l.Source)
		return Opened{}, ErrBadLogin
	}
	if err := m.secondFactor(ctx, u, l); err != nil {
		return Opened{}, err
	}
	return m.open(ctx, u.Name, l.Source)
}

// secondFactor checks the code of an account that has one, and refuses an
// account whose role needs one it lacks.
func (m *Manager) secondFactor(ctx context.Context, u User, l Login) error {
	if len(u.TOTPSecret) == 0 {
		if m.NeedsTOTP(u.Role) {
			return ErrNeedsTOTP
		}
		return nil
	}
	if l.TOTP == "" {
		return ErrNeedsCode
	}
	step, ok := checkTOTP(u.TOTPSecret, strings.ReplaceAll(l.TOTP, " ", ""), m.now(), u.TOTPLast)
	if !ok {
		m.limit.failed(l.Name, l.Source)
		return ErrBadLogin
	}
	// Writing the step used makes the code good once, also against a
	// second login racing this one.
	_, err := m.change(ctx, u.Name, func(u *User) error {
		if step <= u.TOTPLast {
			return ErrBadLogin
		}
		u.TOTPLast = step
		return nil
	})
	return err
}

func (m *Manager) open(ctx context.Context, name, source string) (Opened, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Opened{}, err
	}
	secret := SessionPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	now := m.now().UTC()
	s := Session{User: name, Created: now, LastUsed: now, Expires: now.Add(m.cfg.SessionAbsolute), Source: source}
	doc, _ := json.Marshal(s)
	if _, err := m.st.PutEntity(ctx, KindSession, SessionID(secret), doc, 0); err != nil {
		return Opened{}, fmt.Errorf("store session: %w", err)
	}
	u, err := m.change(ctx, name, func(u *User) error { u.LastLogin = now; return nil })
	if err != nil {
		return Opened{}, err
	}
	return Opened{Secret: secret, User: u.Public(), Session: s}, nil
}

// Authenticate returns the account behind a session secret, and ends a
// session idle or older than the configuration allows. A disabled
// account's sessions are refused even if one survived Disable.
func (m *Manager) Authenticate(ctx context.Context, secret string) (User, Session, error) {
	id := SessionID(secret)
	doc, ver, err := m.st.GetEntity(ctx, KindSession, id)
	if err != nil {
		return User{}, Session{}, fmt.Errorf("%w: unknown or ended", ErrSession)
	}
	var s Session
	if err := json.Unmarshal(doc, &s); err != nil {
		return User{}, Session{}, fmt.Errorf("stored session: %w", err)
	}
	now := m.now()
	switch {
	case !now.Before(s.Expires):
		m.st.DeleteEntity(ctx, KindSession, id)
		return User{}, Session{}, fmt.Errorf("%w expired at %s (users.session_absolute %s): log in again", ErrSession, s.Expires.Format(time.RFC3339), m.cfg.SessionAbsolute)
	case now.Sub(s.LastUsed) >= m.cfg.SessionIdle:
		m.st.DeleteEntity(ctx, KindSession, id)
		return User{}, Session{}, fmt.Errorf("%w expired after %s idle (users.session_idle): log in again", ErrSession, m.cfg.SessionIdle)
	}
	u, _, err := m.Get(ctx, s.User)
	if err != nil || u.Disabled {
		return User{}, Session{}, fmt.Errorf("%w: account %s is disabled or gone", ErrSession, s.User)
	}
	// Writing every request would double the store's writes; a minute's
	// slack on the idle clock is nothing.
	if now.Sub(s.LastUsed) > time.Minute {
		s.LastUsed = now.UTC()
		doc, _ := json.Marshal(s)
		m.st.PutEntity(ctx, KindSession, id, doc, ver) // a conflict: another request did it
	}
	return u.Public(), s, nil
}

// Logout ends the session of secret.
func (m *Manager) Logout(ctx context.Context, secret string) error {
	return m.st.DeleteEntity(ctx, KindSession, SessionID(secret))
}

// ChangePassword sets an account's own password after checking the old
// one, clears must-change, and ends its other sessions than keep (a
// session secret, or "").
func (m *Manager) ChangePassword(ctx context.Context, name, old, pw, keep string) error {
	u, _, err := m.Get(ctx, name)
	if err != nil {
		return err
	}
	ok, err := m.verify(ctx, old, u.Hash)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: the old password is wrong", ErrWeakPassword)
	}
	if err := checkNewPassword(name, old, pw); err != nil {
		return err
	}
	h, err := m.hash(ctx, pw)
	if err != nil {
		return err
	}
	if _, err := m.change(ctx, name, func(u *User) error {
		u.Hash, u.MustChange, u.PasswordSet = h, false, m.now().UTC()
		return nil
	}); err != nil {
		return err
	}
	return m.endSessions(ctx, name, keep)
}

// endSessions deletes the sessions of name except keep's.
func (m *Manager) endSessions(ctx context.Context, name, keep string) error {
	ents, err := m.st.ListEntities(ctx, KindSession)
	if err != nil {
		return err
	}
	keepID := ""
	if keep != "" {
		keepID = SessionID(keep)
	}
	var errs []error
	for _, e := range ents {
		var s Session
		if json.Unmarshal(e.Doc, &s) != nil || s.User != name || e.ID == keepID {
			continue
		}
		errs = append(errs, m.st.DeleteEntity(ctx, KindSession, e.ID))
	}
	return errors.Join(errs...)
}
