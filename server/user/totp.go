package user

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"time"
)

// TOTP parameters (RFC 6238 defaults, which every authenticator app
// reads): HMAC-SHA1, 30-second steps, six digits.
const (
	totpStep   = 30
	totpDigits = 6
	// totpSkew is how many steps either side of now a code is accepted,
	// for a phone's clock that is a little off.
	totpSkew = 1
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpCode is the code of secret for the step counter (RFC 4226 HOTP).
func totpCode(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(sha1.New, secret)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

func totpCounter(t time.Time) uint64 { return uint64(t.Unix()) / totpStep }

// checkTOTP returns the step code matched within ±totpSkew of now, and
// false when it matched none or only a step at or before last, which was
// already used (a code is good once).
func checkTOTP(secret []byte, code string, now time.Time, last uint64) (uint64, bool) {
	if len(code) != totpDigits {
		return 0, false
	}
	c := totpCounter(now)
	for d := -totpSkew; d <= totpSkew; d++ {
		step := uint64(int64(c) + int64(d))
		if step <= last {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(totpCode(secret, step, totpDigits)), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// otpauthURI is the key-URI format authenticator apps scan.
func otpauthURI(issuer, account string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", b32.EncodeToString(secret))
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(totpDigits))
	v.Set("period", fmt.Sprint(totpStep))
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + v.Encode()
}
