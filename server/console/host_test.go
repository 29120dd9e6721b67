package console_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"lachan/internal/wire"
	"lachan/server/fleet"
)

// totp computes the RFC 6238 code of a base32 secret now, as an
// authenticator app does.
func totp(t *testing.T, secret string) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(time.Now().Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1000000)
}

// TestAdminWithTOTPRevokesAHost: an administrator's login asks for the
// second factor, passes with it, and the host page's revoke goes through
// the API into the audit trail.
func TestAdminWithTOTPRevokesAHost(t *testing.T) {
	e := newEnv(t)
	ag, err := fleet.New(e.st, nil).Enroll(context.Background(), "ward-1", wire.Host{Name: "pc-07", OS: "linux", IPs: []string{"10.0.0.7"}})
	if err != nil {
		t.Fatal(err)
	}
	a := e.addUser("quantri", "admin")
	if a.TOTP == nil {
		t.Fatal("an administrator got no second factor")
	}
	b := e.browser()
	p := b.get("/login")
	p = b.post("/login", url.Values{"csrf": {formToken(t, p.Body)}, "name": {"quantri"}, "password": {a.Password}}, nil)
	if p.StatusCode != http.StatusUnauthorized || !strings.Contains(p.Body, "cần mã xác thực") || !strings.Contains(p.Body, `id="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required`) {
		t.Fatalf("login without the code: %d\n%s", p.StatusCode, p.Body)
	}
	p = b.post("/login", url.Values{"csrf": {formToken(t, p.Body)}, "name": {"quantri"}, "password": {a.Password}, "totp": {totp(t, a.TOTP.Secret)}}, nil)
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/password" {
		t.Fatalf("login with the code: %d %q\n%s", p.StatusCode, p.Header.Get("Location"), p.Body)
	}
	p = b.get("/password")
	b.post("/password", url.Values{"csrf": {formToken(t, p.Body)}, "old": {a.Password}, "new": {"mật-khẩu-rất-dài-5"}, "again": {"mật-khẩu-rất-dài-5"}}, nil)
	// The host page lists the host's incidents and no other host's.
	mine, other := e.raise("ward-1", ag.ID, "pc-07", "r1"), e.raise("ward-1", "pc-08", "pc-08", "r1")
	p = b.get("/hosts/" + ag.ID)
	if p.StatusCode != 200 || !strings.Contains(p.Body, "pc-07") || !strings.Contains(p.Body, `id="revoke"`) || !strings.Contains(p.Body, `id="live-form"`) {
		t.Fatalf("host page: %d\n%s", p.StatusCode, p.Body)
	}
	if !strings.Contains(p.Body, `href="/incidents/`+mine+`"`) || strings.Contains(p.Body, other) {
		t.Fatalf("host page lists its incident %v, another host's %v\n%s", strings.Contains(p.Body, mine), strings.Contains(p.Body, other), p.Body)
	}
	p = b.post("/hosts/"+ag.ID+"/revoke", url.Values{"csrf": {formToken(t, p.Body)}}, nil)
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d\n%s", p.StatusCode, p.Body)
	}
	got, _, err := fleet.New(e.st, nil).Get(context.Background(), ag.ID)
	if err != nil || got.Revoked.IsZero() || got.RevokedBy != "quantri" {
		t.Errorf("agent after revoke: %+v %v", got, err)
	}
	if !auditHas(t, e, "quantri", "agent.revoked", ag.ID) {
		t.Error("the revoke is not in the audit trail")
	}
	if p = b.get("/hosts/nope"); p.StatusCode != http.StatusNotFound {
		t.Errorf("unknown host: %d", p.StatusCode)
	}
}
