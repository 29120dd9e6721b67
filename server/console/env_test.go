package console_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/server/app"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/server/store/embedded/embeddedtest"
	"lachan/server/unit"
	"lachan/server/user"
)

// env is a whole server (app.New, as lachan serve builds it) on a
// loopback port, with its store for setting up accounts and incidents.
type env struct {
	t    testing.TB
	base string
	st   store.Store
	cfg  app.Config
	pool *x509.CertPool
}

func fastUsers() user.Config {
	c := user.DefaultConfig()
	c.Argon2 = user.Argon2Config{Time: 1, MemoryKiB: 8192, Threads: 1}
	return c
}

func newEnv(t testing.TB) *env { return newEnvWith(t, nil) }

// newEnvWith runs before on the store before the server starts, as data
// a server finds when it starts on an existing data directory.
func newEnvWith(t testing.TB, before func(store.Store)) *env { return newEnvConfig(t, before, nil) }

// newEnvConfig is newEnvWith with tweak applied to the server's
// configuration.
func newEnvConfig(t testing.TB, before func(store.Store), tweak func(*app.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := app.DefaultConfig()
	cfg.PKIDir = filepath.Join(dir, "pki")
	cfg.TokenFile = filepath.Join(dir, "operator.token")
	cfg.ForwardDir = filepath.Join(dir, "forward")
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Users = fastUsers()
	if tweak != nil {
		tweak(&cfg)
	}
	st := embeddedtest.Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	units := unit.NewRegistry(st)
	if err := units.Apply(ctx, []unit.Spec{{ID: "hcm", Name: "HCM"}, {ID: "ward-1", Name: "Ward 1", Parent: "hcm"},
		{ID: "ward-2", Name: "Ward 2", Parent: "hcm"}}); err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(st)
	}
	srv, err := app.New(ctx, cfg, st, logging.Discard())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("server did not stop within 20 s")
		}
	})
	ca, err := os.ReadFile(filepath.Join(cfg.PKIDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &env{t: t, base: "https://" + srv.Addr().String(), st: st, cfg: cfg, pool: pool}
}

// addUser makes an account and returns its one-time password.
func (e *env) addUser(name, role string, units ...string) user.Added {
	e.t.Helper()
	a, err := user.New(e.cfg.Users, e.st, nil).Add(context.Background(), user.User{Name: name, Role: role, Units: units})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// raise makes an incident in unit from one alert about host.
func (e *env) raise(unitID, hostID, hostName, rule string) string {
	e.t.Helper()
	al := event.New(event.DatasetAlert, time.Now().Add(-time.Minute))
	al.ID = event.DeriveID("alert", rule, hostID)
	al.Set("host.id", hostID)
	al.Set("host.name", hostName)
	al.Set("rule.id", rule)
	al.Set("rule.name", "Rule "+rule)
	al.Set("rule.level", "high")
	al.Set("lachan.unit", unitID)
	ids, err := incident.NewManager(e.st, incident.DefaultConfig(), nil).Raise(context.Background(), []event.Event{al})
	if err != nil || len(ids) != 1 {
		e.t.Fatalf("raise: %v %v", ids, err)
	}
	return ids[0]
}

// browser is a client that keeps cookies and does not follow redirects,
// so that tests see each answer.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one answer, read whole.
type page struct {
	*http.Response
	Body string
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{Response: resp, Body: string(body)}
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.base+path, nil)
	return b.do(req)
}

// post sends a form as a page of this origin would, with Origin and
// Sec-Fetch-Site; hdr overrides them.
func (b *browser) post(path string, form url.Values, hdr map[string]string) page {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return b.do(req)
}

// formToken reads the csrf hidden field of a page.
func formToken(t testing.TB, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="csrf" value="`)
	if !ok {
		t.Fatalf("page has no csrf field:\n%s", body)
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

// login logs in with the one-time password and sets newPW, leaving the
// browser with a working session.
func (b *browser) login(name, onetime, newPW string) {
	t := b.e.t
	t.Helper()
	p := b.get("/login")
	p = b.post("/login", url.Values{"csrf": {formToken(t, p.Body)}, "name": {name}, "password": {onetime}}, nil)
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/password" {
		t.Fatalf("login: %d %s\n%s", p.StatusCode, p.Header.Get("Location"), p.Body)
	}
	p = b.get("/password")
	p = b.post("/password", url.Values{"csrf": {formToken(t, p.Body)}, "old": {onetime}, "new": {newPW}, "again": {newPW}}, nil)
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("change password: %d\n%s", p.StatusCode, p.Body)
	}
}
