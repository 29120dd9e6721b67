package console

import (
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"lachan/server/store"
)

// Console serves the web interface. It is built once; Handler binds it
// to the API it reads and writes through.
type Console struct {
	cfg  Config
	log  *slog.Logger
	st   store.Store
	cats map[string]catalog
	tmpl map[string]map[string]*template.Template
	// api is the REST API's handler, called in process (backend.go).
	api http.Handler
	// minutes are the overview's events of the last minute per scope.
	minutes minuteCounts
}

// New parses the templates and catalogs. st keeps people's saved queue
// views (their own preferences, not data the API guards); nil turns
// saved views off.
func New(cfg Config, st store.Store, log *slog.Logger) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	tmpl, err := parseTemplates(cats)
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, log: log.With("component", "console"), st: st, cats: cats, tmpl: tmpl}, nil
}

// Me is the person at the browser as the API's whoami answers.
type Me struct {
	Name        string   `json:"name"`
	Role        string   `json:"role"`
	Units       []string `json:"units"`
	MustChange  bool     `json:"must_change"`
	Permissions []string `json:"permissions"`
}

// view is what every page template receives.
type view struct {
	Lang  string
	Path  string
	Title string
	Nav   string
	Me    *Me
	CSRF  string
	// Error and Flash are messages for the person, already translated.
	Error string
	Flash string
	Data  any
}

// Handler returns the console's routes over api, the REST API's handler.
// Paths under /api/ never reach it: the API answers those itself.
func (c *Console) Handler(api http.Handler) http.Handler {
	c.api = api
	mux := http.NewServeMux()
	mux.Handle("GET /static/", c.static())
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("GET /lang", c.setLang)
	mux.HandleFunc("POST /logout", c.post(c.logout))
	mux.HandleFunc("GET /password", c.page(c.passwordPage))
	mux.HandleFunc("POST /password", c.post(c.changePassword))
	mux.HandleFunc("GET /{$}", c.page(c.overview))
	mux.HandleFunc("GET /incidents", c.page(c.queue))
	mux.HandleFunc("POST /incidents/bulk-assign", c.post(c.bulkAssign))
	mux.HandleFunc("POST /incidents/views", c.post(c.saveView))
	mux.HandleFunc("GET /incidents/{id}", c.page(c.incident))
	mux.HandleFunc("GET /incidents/{id}/packets", c.page(c.packets))
	mux.HandleFunc("POST /incidents/{id}/{step}", c.post(c.incidentStep))
	mux.HandleFunc("POST /incidents/{id}/actions", c.post(c.requestAction))
	mux.HandleFunc("POST /incidents/{id}/actions/{action}/{step}", c.post(c.actionStep))
	mux.HandleFunc("GET /audit", c.page(c.auditPage))
	mux.HandleFunc("GET /hunt", c.page(c.hunt))
	mux.HandleFunc("GET /hunt/export", c.page(c.huntExport))
	mux.HandleFunc("GET /hunt/histogram", c.page(c.huntHistogram))
	mux.HandleFunc("GET /hosts", c.page(c.hosts))
	mux.HandleFunc("GET /hosts/{id}", c.page(c.host))
	mux.HandleFunc("POST /hosts/{id}/{step}", c.post(c.hostAction))
	mux.HandleFunc("GET /live/{id}", c.page(c.liveResult))
	mux.HandleFunc("GET /systems", c.page(c.systems))
	mux.HandleFunc("GET /rules", c.page(c.rules))
	mux.HandleFunc("POST /rules/{set}/{id}/{to}", c.post(c.switchRule))
	mux.HandleFunc("GET /reports/{kind}/{id}", c.page(c.report))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.problem(w, r, http.StatusNotFound, "err.notfound", r.URL.Path)
	})
	return mux
}

// who asks the API who the session's owner is. A dead session (expired,
// idle too long, logged out) is errNoSession.
func (c *Console) who(r *http.Request) (*Me, string, error) {
	secret := sessionSecret(r)
	if secret == "" {
		return nil, "", errNoSession
	}
	var me Me
	err := c.call(r, secret, http.MethodGet, "/api/v1/whoami", nil, nil, &me)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		return nil, "", errNoSession
	}
	if err != nil {
		return nil, "", fmt.Errorf("whoami: %w", err)
	}
	return &me, secret, nil
}

var errNoSession = errors.New("no session")

// req is one request of a signed-in person.
type req struct {
	w      http.ResponseWriter
	r      *http.Request
	me     *Me
	secret string
}

// page wraps a page for signed-in people: without a live session the
// browser goes to the login page, and a person who must change a
// one-time password goes to do that first.
func (c *Console) page(h func(req)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		me, secret, err := c.who(r)
		if errors.Is(err, errNoSession) {
			if secret := sessionSecret(r); secret != "" {
				setCookie(w, cookieSession, "", -1)
			}
			if r.URL.Path == "/" && r.Method == http.MethodGet {
				// The console's address answers with the login form
				// itself, for a browser and for `curl -k https://ADDR/`.
				c.showLogin(w, r, http.StatusOK, loginData{Next: "/"}, "")
				return
			}
			http.Redirect(w, r, "/login?next="+urlPath(r), http.StatusSeeOther)
			return
		}
		if err != nil {
			c.log.Error("console page", "path", r.URL.Path, "err", err)
			c.problem(w, r, http.StatusBadGateway, "err.internal")
			return
		}
		if me.MustChange && r.URL.Path != "/password" && r.URL.Path != "/logout" {
			http.Redirect(w, r, "/password", http.StatusSeeOther)
			return
		}
		h(req{w: w, r: r, me: me, secret: secret})
	}
}

// post wraps a form handler: a live session, the same origin and the
// session's CSRF token, or nothing happens.
func (c *Console) post(h func(req)) http.HandlerFunc {
	return c.page(func(q req) {
		if err := checkForm(q.w, q.r, csrfFor(q.secret)); err != nil {
			c.log.Warn("console form refused", "path", q.r.URL.Path, "name", q.me.Name, "reason", err.Error())
			c.problem(q.w, q.r, http.StatusForbidden, "err.csrf")
			return
		}
		h(q)
	})
}

func urlPath(r *http.Request) string {
	return template.URLQueryEscaper(localPath(r.URL.RequestURI()))
}

// view starts a page's view for q.
func (q req) view(title, nav string, data any) *view {
	return &view{Title: title, Nav: nav, Me: q.me, CSRF: csrfFor(q.secret), Data: data}
}

// fail shows the API's refusal, or a generic error for anything else
// (logged, not shown: it may name internals).
func (c *Console) fail(q req, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		c.render(q.w, q.r, ae.Status, "problem", q.view("problem.title", "", nil).withError(ae.Msg))
		return
	}
	c.log.Error("console", "path", q.r.URL.Path, "err", err)
	c.problem(q.w, q.r, http.StatusInternalServerError, "err.internal")
}

func (v *view) withError(msg string) *view { v.Error = msg; return v }

// back redirects to the page the form came from (the form's "next").
func back(q req, fallback string) {
	next := q.r.PostFormValue("next")
	if next == "" || !strings.HasPrefix(next, "/") {
		next = fallback
	}
	http.Redirect(q.w, q.r, localPath(next), http.StatusSeeOther)
}
