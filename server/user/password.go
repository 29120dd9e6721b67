package user

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

const (
	saltLen = 16
	keyLen  = 32
	// MinPassword and MaxPassword bound a password a person chooses; the
	// upper bound keeps one login from hashing megabytes.
	MinPassword = 12
	MaxPassword = 256
)

// hashPassword returns the PHC string of pw: the parameters, the salt and
// the key, so that a later change of parameters leaves it verifiable.
func hashPassword(pw string, c Argon2Config) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, c.Time, c.MemoryKiB, c.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, c.MemoryKiB, c.Time, c.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

var errBadHash = errors.New("stored password hash is not argon2id")

// verifyPassword reports whether pw matches the PHC string h.
func verifyPassword(pw, h string) (bool, error) {
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	var c Argon2Config
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &c.MemoryKiB, &c.Time, &c.Threads); err != nil || c.Time < 1 || c.Threads < 1 || c.MemoryKiB > 4<<20 {
		return false, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(pw), salt, c.Time, c.MemoryKiB, c.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// oneTimePassword is 20 random characters of an alphabet without look-
// alike letters (100 bits), grouped by five for reading aloud.
func oneTimePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789" // 31 letters
	var out strings.Builder
	b := make([]byte, 1)
	for n := 0; n < 20; {
		if _, err := rand.Read(b); err != nil {
			panic(err) // crypto/rand does not fail on supported systems
		}
		if int(b[0]) >= 256/len(alphabet)*len(alphabet) {
			continue // no modulo bias
		}
		if n > 0 && n%5 == 0 {
			out.WriteByte('-')
		}
		out.WriteByte(alphabet[int(b[0])%len(alphabet)])
		n++
	}
	return out.String()
}

// checkNewPassword refuses a password a person should not choose.
func checkNewPassword(name, old, pw string) error {
	switch {
	case len(pw) < MinPassword:
		return fmt.Errorf("%w: at least %d characters", ErrWeakPassword, MinPassword)
	case len(pw) > MaxPassword:
		return fmt.Errorf("%w: at most %d bytes", ErrWeakPassword, MaxPassword)
	case pw == old:
		return fmt.Errorf("%w: the same as the old one", ErrWeakPassword)
	case strings.Contains(strings.ToLower(pw), strings.ToLower(name)):
		return fmt.Errorf("%w: contains the account's name", ErrWeakPassword)
	}
	return nil
}
