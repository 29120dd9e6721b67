package unit

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"lachan/server/store"
)

// KindEnrollCode is the store entity kind of one-time enrollment codes,
// keyed by the SHA-256 of the code (the code itself is never stored).
const KindEnrollCode = "enroll_code"

// ErrBadCode is returned for an enrollment code that is unknown, used or
// expired; the three are not told apart, to the caller or an attacker.
var ErrBadCode = errors.New("unknown, used or expired enrollment code")

// Code is a stored one-time enrollment code.
type Code struct {
	// ID is the first 16 hex digits of the code's hash, shown in lists.
	ID        string    `json:"id"`
	Unit      string    `json:"unit"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
	Expires   time.Time `json:"expires"`
	// UsedAt and UsedBy (the agent it enrolled) are set once.
	UsedAt time.Time `json:"used_at,omitempty"`
	UsedBy string    `json:"used_by,omitempty"`
}

// MaxCodeValidity bounds how long a one-time code stays usable.
const MaxCodeValidity = 30 * 24 * time.Hour

// IssueCodes makes n one-time enrollment codes for unit, valid for
// validity, and returns their texts (shown only once).
func (r *Registry) IssueCodes(ctx context.Context, unit string, n int, validity time.Duration, by string) ([]string, error) {
	if n < 1 || n > 1000 {
		return nil, fmt.Errorf("count %d: between 1 and 1000 codes at a time", n)
	}
	if validity <= 0 || validity > MaxCodeValidity {
		return nil, fmt.Errorf("expiry %s: more than 0 and at most %s", validity, MaxCodeValidity)
	}
	if _, err := r.Get(ctx, unit); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	out := make([]string, 0, n)
	for range n {
		code := newCode()
		c := Code{ID: SecretID(code), Unit: unit, Created: now, CreatedBy: by, Expires: now.Add(validity)}
		doc, _ := json.Marshal(c)
		if _, err := r.st.PutEntity(ctx, KindEnrollCode, hashSecret(code), doc, 0); err != nil {
			return nil, fmt.Errorf("store enrollment code: %w", err)
		}
		out = append(out, code)
	}
	return out, nil
}

// newCode returns 80 random bits as four groups of base32 letters, easy
// to read out over a telephone: ABCD-EFGH-JKLM-NPQR.
func newCode() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on supported platforms
	s := base32.StdEncoding.EncodeToString(b[:])
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// normaliseCode accepts a code typed in lower case or without dashes.
func normaliseCode(code string) string {
	c := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	if len(c) != 16 {
		return code
	}
	return c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
}

// RedeemCode marks a code used by agent and returns its unit and ID. Two
// enrollments racing for one code cannot both win: the write is
// conditional on the version read.
func (r *Registry) RedeemCode(ctx context.Context, code, agent string, now time.Time) (Unit, string, error) {
	key := hashSecret(normaliseCode(code))
	doc, ver, err := r.st.GetEntity(ctx, KindEnrollCode, key)
	if errors.Is(err, store.ErrNotFound) {
		return Unit{}, "", ErrBadCode
	}
	if err != nil {
		return Unit{}, "", fmt.Errorf("enrollment code: %w", err)
	}
	var c Code
	if err := json.Unmarshal(doc, &c); err != nil {
		return Unit{}, "", fmt.Errorf("enrollment code %s: stored document: %w", c.ID, err)
	}
	if !c.UsedAt.IsZero() || !now.Before(c.Expires) {
		return Unit{}, "", ErrBadCode
	}
	u, err := r.Get(ctx, c.Unit)
	if err != nil {
		return Unit{}, "", err
	}
	c.UsedAt, c.UsedBy = now.UTC(), agent
	doc, _ = json.Marshal(c)
	if _, err := r.st.PutEntity(ctx, KindEnrollCode, key, doc, ver); errors.Is(err, store.ErrConflict) {
		return Unit{}, "", ErrBadCode
	} else if err != nil {
		return Unit{}, "", fmt.Errorf("enrollment code %s: %w", c.ID, err)
	}
	return u, c.ID, nil
}

// Codes lists the enrollment codes of the given units (nil: all).
func (r *Registry) Codes(ctx context.Context, units []string) ([]Code, error) {
	ents, err := r.st.ListEntities(ctx, KindEnrollCode)
	if err != nil {
		return nil, fmt.Errorf("list enrollment codes: %w", err)
	}
	out := make([]Code, 0, len(ents))
	for _, e := range ents {
		var c Code
		if err := json.Unmarshal(e.Doc, &c); err != nil {
			return nil, fmt.Errorf("enrollment code %s: stored document: %w", e.ID, err)
		}
		if units == nil || contains(units, c.Unit) {
			out = append(out, c)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RotateSecret gives unit a new enrollment secret, returned once. The old
// one keeps working for grace (0: stops at once), so that installs under
// way can finish.
func (r *Registry) RotateSecret(ctx context.Context, id string, grace time.Duration) (string, error) {
	if grace < 0 || grace > MaxCodeValidity {
		return "", fmt.Errorf("grace %s: between 0 and %s", grace, MaxCodeValidity)
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	secret := "les_" + base64.RawURLEncoding.EncodeToString(b[:])
	for attempt := 0; ; attempt++ {
		doc, ver, err := r.st.GetEntity(ctx, store.KindUnit, id)
		if err != nil {
			return "", fmt.Errorf("unit %q: %w", id, err)
		}
		var u Unit
		if err := json.Unmarshal(doc, &u); err != nil {
			return "", fmt.Errorf("unit %q: stored document: %w", id, err)
		}
		u.PrevSecretHash, u.PrevSecretUntil = "", time.Time{}
		if u.SecretHash != "" && grace > 0 {
			u.PrevSecretHash, u.PrevSecretUntil = u.SecretHash, time.Now().UTC().Add(grace)
		}
		u.SecretHash = hashSecret(secret)
		doc, _ = json.Marshal(u)
		_, err = r.st.PutEntity(ctx, store.KindUnit, id, doc, ver)
		if err == nil {
			return secret, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= 5 {
			return "", fmt.Errorf("unit %q: %w", id, err)
		}
	}
}
