package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Cookie names. The __Host- prefix makes the browser refuse them unless
// they are Secure, for path / and without a domain: no other host of the
// city's network can set or shadow them.
const (
	cookieSession = "__Host-lachan_session"
	// cookiePre carries the login form's CSRF token before a session
	// exists (double submit).
	cookiePre  = "__Host-lachan_pre"
	cookieLang = "__Host-lachan_lang"
)

// csp allows the console's own script and style only: no inline script,
// no inline handler, no other origin, no framing.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// secure sets the headers every console answer carries.
func secure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: under no-referrer browsers send
	// "Origin: null" with a form's POST, and sameOrigin must refuse that.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Strict-Transport-Security", "max-age=31536000")
}

// setCookie writes a cookie the browser keeps to this origin only and
// never shows to script. maxAge 0 makes it last until the browser closes;
// negative deletes it.
func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// sessionSecret is the session in the request's cookie, if any.
func sessionSecret(r *http.Request) string {
	c, err := r.Cookie(cookieSession)
	if err != nil {
		return ""
	}
	return c.Value
}

// csrfFor derives the CSRF token of a session from its secret: a page
// from this origin shows it in its forms; another site cannot read the
// HttpOnly cookie and so cannot make it. Deriving instead of storing
// keeps every replica of the server able to check it.
func csrfFor(secret string) string {
	sum := sha256.Sum256([]byte("lachan console csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// newPreToken is a random token for the login form.
func newPreToken() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // the runtime cannot fail here since Go 1.24
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Reasons a POST is refused before it is looked at.
var (
	errCrossSite = errors.New("request from another site")
	errCSRF      = errors.New("form token missing or stale: reload the page")
)

// sameOrigin refuses a request the browser says came from another site,
// by Sec-Fetch-Site or by Origin; requests with neither (older browsers,
// scripts) still need the form token.
func sameOrigin(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin":
	default:
		return errCrossSite
	}
	if o := r.Header.Get("Origin"); o != "" && o != "https://"+r.Host {
		return errCrossSite
	}
	return nil
}

// checkForm checks the origin and that the form's token equals want.
// It parses the form (at most 64 KiB).
func checkForm(w http.ResponseWriter, r *http.Request, want string) error {
	if err := sameOrigin(r); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return errors.New("form: " + err.Error())
	}
	got := r.PostFormValue("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errCSRF
	}
	return nil
}

// localPath keeps a redirect target on this server: a path, never a
// scheme or another host ("//evil" or "/\evil").
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// sessionMaxAge is the cookie's lifetime for a session ending at exp;
// the server ends the session itself (idle and absolute expiry), the
// cookie only stops the browser sending a dead one.
func sessionMaxAge(exp, now time.Time) int {
	s := int(exp.Sub(now).Seconds())
	if s < 1 {
		return -1
	}
	return s
}
