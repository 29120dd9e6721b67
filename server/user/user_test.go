package user

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/server/store/embedded/embeddedtest"
)

// TestTOTPVectors checks the RFC 6238 appendix B values (SHA-1, secret
// "12345678901234567890"), cut to six digits as apps show them.
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, c := range []struct {
		unix int64
		want string
	}{{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"}, {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}} {
		if got := totpCode(secret, totpCounter(time.Unix(c.unix, 0)), 8); got != c.want {
			t.Errorf("T=%d: %s, want %s", c.unix, got, c.want)
		}
		if got := totpCode(secret, totpCounter(time.Unix(c.unix, 0)), 6); got != c.want[2:] {
			t.Errorf("T=%d six digits: %s, want %s", c.unix, got, c.want[2:])
		}
	}
}

func TestTOTPWindowAndReplay(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	c := totpCounter(now)
	for _, d := range []struct {
		step uint64
		last uint64
		ok   bool
	}{{c, 0, true}, {c - 1, 0, true}, {c + 1, 0, true}, {c - 2, 0, false}, {c + 2, 0, false}, {c, c, false}, {c + 1, c, true}} {
		_, ok := checkTOTP(secret, totpCode(secret, d.step, 6), now, d.last)
		if ok != d.ok {
			t.Errorf("step %+d, last %+d: %v, want %v", int64(d.step)-int64(c), int64(d.last)-int64(c), ok, d.ok)
		}
	}
	if !strings.HasPrefix(otpauthURI("Lá Chắn", "lan", secret), "otpauth://totp/L%C3%A1%20Ch%E1%BA%AFn:lan?") {
		t.Errorf("URI: %s", otpauthURI("Lá Chắn", "lan", secret))
	}
}

func TestPasswordHash(t *testing.T) {
	c := testConfig().Argon2
	h, err := hashPassword("correct horse battery", c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("hash does not name its parameters: %s", h)
	}
	h2, _ := hashPassword("correct horse battery", c)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		if ok, err := verifyPassword(pw, h); err != nil || ok != want {
			t.Errorf("verify %q: %v %v, want %v", pw, ok, err, want)
		}
	}
	// A hash made with other parameters still verifies.
	if ok, _ := verifyPassword("x", mustHash(t, "x", Argon2Config{Time: 2, MemoryKiB: 9000, Threads: 2})); !ok {
		t.Fatal("hash of other parameters does not verify")
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=x$a$b", "$argon2i$v=19$m=8192,t=1,p=1$c2FsdA$a2V5"} {
		if _, err := verifyPassword("x", bad); err == nil {
			t.Errorf("%q verified without error", bad)
		}
	}
}

func mustHash(t *testing.T, pw string, c Argon2Config) string {
	h, err := hashPassword(pw, c)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func testConfig() Config {
	c := DefaultConfig()
	c.Argon2 = Argon2Config{Time: 1, MemoryKiB: 8192, Threads: 1}
	return c
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newManager(t *testing.T) (*Manager, *clock) {
	clk := &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	return New(testConfig(), embeddedtest.Open(t), clk.now), clk
}

func TestLoginMustChangeAndSessions(t *testing.T) {
	ctx := context.Background()
	m, clk := newManager(t)
	a, err := m.Add(ctx, User{Name: "lan", Role: "analyst"})
	if err != nil {
		t.Fatal(err)
	}
	if a.TOTP != nil || !a.User.MustChange || a.User.Hash != "" || len(a.Password) < 20 {
		t.Fatalf("added: %+v", a)
	}
	if _, err := m.Add(ctx, User{Name: "lan", Role: "auditor"}); !errors.Is(err, ErrExists) {
		t.Fatalf("second add: %v", err)
	}
	if _, err := m.Add(ctx, User{Name: "Lan/x", Role: "auditor"}); !errors.Is(err, ErrBadName) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := m.Login(ctx, Login{Name: "lan", Password: "wrong", Source: "10.0.0.1"}); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("wrong password: %v", err)
	}
	o, err := m.Login(ctx, Login{Name: "lan", Password: a.Password, Source: "10.0.0.1"})
	if err != nil || !o.User.MustChange || !strings.HasPrefix(o.Secret, SessionPrefix) {
		t.Fatalf("login: %+v %v", o, err)
	}
	for _, c := range []struct{ pw, want string }{{"short", "at least 12"}, {a.Password, "same as the old"}, {"my-name-is-lan!", "name"}} {
		if err := m.ChangePassword(ctx, "lan", a.Password, c.pw, o.Secret); !errors.Is(err, ErrWeakPassword) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("new password %q: %v", c.pw, err)
		}
	}
	other, _ := m.Login(ctx, Login{Name: "lan", Password: a.Password})
	if err := m.ChangePassword(ctx, "lan", a.Password, "a long new passphrase", o.Secret); err != nil {
		t.Fatal(err)
	}
	if u, _, err := m.Authenticate(ctx, o.Secret); err != nil || u.MustChange {
		t.Fatalf("session after change: %+v %v", u, err)
	}
	if _, _, err := m.Authenticate(ctx, other.Secret); !errors.Is(err, ErrSession) {
		t.Fatalf("other session survived a password change: %v", err)
	}
	// Idle: used within the idle time it lives on; left alone it ends.
	clk.add(20 * time.Minute)
	if _, _, err := m.Authenticate(ctx, o.Secret); err != nil {
		t.Fatalf("after 20 min: %v", err)
	}
	clk.add(29 * time.Minute)
	if _, _, err := m.Authenticate(ctx, o.Secret); err != nil {
		t.Fatalf("29 min after last use: %v", err)
	}
	clk.add(31 * time.Minute)
	if _, _, err := m.Authenticate(ctx, o.Secret); !errors.Is(err, ErrSession) || !strings.Contains(err.Error(), "idle") {
		t.Fatalf("idle session: %v", err)
	}
	// Absolute: however busy, a session ends after 12 hours.
	o, _ = m.Login(ctx, Login{Name: "lan", Password: "a long new passphrase"})
	for i := 0; i < 24; i++ {
		clk.add(29 * time.Minute)
		if _, _, err := m.Authenticate(ctx, o.Secret); err != nil {
			t.Fatalf("busy session at %d: %v", i, err)
		}
	}
	clk.add(29 * time.Minute)
	if _, _, err := m.Authenticate(ctx, o.Secret); !errors.Is(err, ErrSession) || !strings.Contains(err.Error(), "session_absolute") {
		t.Fatalf("session past 12 h: %v", err)
	}
	// Disable ends sessions and refuses the right password.
	o, _ = m.Login(ctx, Login{Name: "lan", Password: "a long new passphrase"})
	if _, err := m.Disable(ctx, "lan"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Authenticate(ctx, o.Secret); !errors.Is(err, ErrSession) {
		t.Fatalf("session of a disabled account: %v", err)
	}
	if _, err := m.Login(ctx, Login{Name: "lan", Password: "a long new passphrase"}); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("login of a disabled account: %v", err)
	}
	// Enable lets the same password in again; the ended session stays ended.
	if u, err := m.Enable(ctx, "lan"); err != nil || u.Disabled {
		t.Fatalf("enable: %+v %v", u, err)
	}
	if _, _, err := m.Authenticate(ctx, o.Secret); !errors.Is(err, ErrSession) {
		t.Fatalf("session ended by disable, after enable: %v", err)
	}
	if _, err := m.Login(ctx, Login{Name: "lan", Password: "a long new passphrase"}); err != nil {
		t.Fatalf("login after enable: %v", err)
	}
	if _, err := m.Enable(ctx, "nobody"); err == nil {
		t.Fatal("enable of an unknown account succeeded")
	}
}

func TestLoginThrottled(t *testing.T) {
	ctx := context.Background()
	m, clk := newManager(t)
	a, _ := m.Add(ctx, User{Name: "lan", Role: "analyst"})
	for i := 0; i < 5; i++ {
		if _, err := m.Login(ctx, Login{Name: "lan", Password: "guess", Source: "10.0.0.9"}); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	// Now even the right password is throttled, from any address.
	var te *ThrottledError
	if _, err := m.Login(ctx, Login{Name: "lan", Password: a.Password, Source: "10.0.0.10"}); !errors.As(err, &te) || te.Wait <= 0 {
		t.Fatalf("sixth attempt: %v", err)
	}
	// Not for good: one attempt comes back in 3 minutes.
	clk.add(3*time.Minute + time.Second)
	if _, err := m.Login(ctx, Login{Name: "lan", Password: a.Password, Source: "10.0.0.10"}); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	// One address guessing many accounts is throttled too.
	for i := 0; i < 20; i++ {
		m.Login(ctx, Login{Name: "nobody" + string(rune('a'+i)), Password: "x", Source: "10.0.0.66"})
	}
	if _, err := m.Login(ctx, Login{Name: "lan", Password: "x", Source: "10.0.0.66"}); !errors.As(err, &te) || !strings.Contains(te.What, "10.0.0.66") {
		t.Fatalf("address over its limit: %v", err)
	}
}

func TestSecondFactor(t *testing.T) {
	ctx := context.Background()
	m, clk := newManager(t)
	a, err := m.Add(ctx, User{Name: "root", Role: "admin"})
	if err != nil || a.TOTP == nil || !strings.HasPrefix(a.TOTP.URI, "otpauth://totp/") {
		t.Fatalf("admin added without a second factor: %+v %v", a, err)
	}
	secret, _ := b32.DecodeString(a.TOTP.Secret)
	if _, err := m.Login(ctx, Login{Name: "root", Password: a.Password}); !errors.Is(err, ErrNeedsCode) {
		t.Fatalf("no code: %v", err)
	}
	code := totpCode(secret, totpCounter(clk.now()), 6)
	if _, err := m.Login(ctx, Login{Name: "root", Password: a.Password, TOTP: code}); err != nil {
		t.Fatalf("with code: %v", err)
	}
	if _, err := m.Login(ctx, Login{Name: "root", Password: a.Password, TOTP: code}); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("code used twice: %v", err)
	}
	// A role that needs a factor and has none cannot log in.
	m.cfg.TOTPRoles = []string{"admin", "auditor"}
	b, _ := m.Add(ctx, User{Name: "kiem", Role: "analyst"})
	m.cfg.TOTPRoles = []string{"analyst"}
	if _, err := m.Login(ctx, Login{Name: "kiem", Password: b.Password}); !errors.Is(err, ErrNeedsTOTP) {
		t.Fatalf("analyst without a factor under totp_roles [analyst]: %v", err)
	}
	tt, err := m.EnrollTOTP(ctx, "kiem")
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := b32.DecodeString(tt.Secret)
	if _, err := m.Login(ctx, Login{Name: "kiem", Password: b.Password, TOTP: totpCode(s2, totpCounter(clk.now()), 6)}); err != nil {
		t.Fatalf("after enrolment: %v", err)
	}
	list, _ := m.List(ctx)
	for _, u := range list {
		if u.Hash != "" || u.TOTPSecret != nil {
			t.Fatalf("List leaks secrets: %+v", u)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.SessionAbsolute = time.Minute
	c.Argon2.MemoryKiB = 1024
	err := c.Validate()
	for _, want := range []string{"users.session_absolute", "users.argon2.memory_kib"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}
