package console

import (
	"errors"
	"net/http"
	"time"
)

type loginData struct {
	Name     string
	Next     string
	NeedTOTP bool
}

// loginPage shows the form with a fresh token for the double submit.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, loginData{Next: localPath(r.URL.Query().Get("next"))}, "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData, msg string) {
	tok := newPreToken()
	setCookie(w, cookiePre, tok, 600)
	c.render(w, r, status, "login", &view{Title: "login.title", CSRF: tok, Error: msg, Data: d})
}

type loginBody struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	TOTP     string `json:"totp,omitempty"`
}

type loginAnswer struct {
	Token      string    `json:"token"`
	Expires    time.Time `json:"expires"`
	MustChange bool      `json:"must_change"`
}

// login passes the form to the API's login, which checks the password
// and second factor, throttles and audits; the session it opens goes
// into the cookie and is never shown to the page.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	pre := ""
	if ck, err := r.Cookie(cookiePre); err == nil {
		pre = ck.Value
	}
	if err := checkForm(w, r, pre); err != nil {
		c.showLogin(w, r, http.StatusForbidden, loginData{}, c.cats[langOf(r)].translate("err.csrf"))
		return
	}
	d := loginData{Name: r.PostFormValue("name"), Next: localPath(r.PostFormValue("next"))}
	var ans loginAnswer
	err := c.call(r, "", http.MethodPost, "/api/v1/login", nil,
		loginBody{Name: d.Name, Password: r.PostFormValue("password"), TOTP: r.PostFormValue("totp")}, &ans)
	var ae *apiError
	if errors.As(err, &ae) {
		d.NeedTOTP = ae.Field == "totp" || r.PostFormValue("totp") != ""
		key := "login.failed"
		switch {
		case ae.Status == http.StatusTooManyRequests:
			key = "login.throttled"
		case ae.Field == "totp":
			key = "login.needcode"
		case ae.Status == http.StatusServiceUnavailable:
			key = "login.disabled"
		}
		c.showLogin(w, r, ae.Status, d, c.cats[langOf(r)].translate(key))
		return
	}
	if err != nil {
		c.log.Error("console login", "err", err)
		c.problem(w, r, http.StatusInternalServerError, "err.internal")
		return
	}
	setCookie(w, cookiePre, "", -1)
	setCookie(w, cookieSession, ans.Token, sessionMaxAge(ans.Expires, time.Now()))
	next := d.Next
	if ans.MustChange {
		next = "/password"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session at the API (audited there) and drops the cookie.
func (c *Console) logout(q req) {
	if err := c.call(q.r, q.secret, http.MethodPost, "/api/v1/logout", nil, nil, nil); err != nil {
		c.log.Warn("console logout", "name", q.me.Name, "err", err)
	}
	setCookie(q.w, cookieSession, "", -1)
	http.Redirect(q.w, q.r, "/login", http.StatusSeeOther)
}

func (c *Console) passwordPage(q req) {
	c.render(q.w, q.r, http.StatusOK, "password", q.view("password.title", "", nil))
}

// changePassword changes the person's own password through the API,
// which keeps this session and ends the others.
func (c *Console) changePassword(q req) {
	cat := c.cats[langOf(q.r)]
	if q.r.PostFormValue("new") != q.r.PostFormValue("again") {
		c.render(q.w, q.r, http.StatusBadRequest, "password", q.view("password.title", "", nil).withError(cat.translate("password.mismatch")))
		return
	}
	err := c.call(q.r, q.secret, http.MethodPost, "/api/v1/password", nil,
		map[string]string{"old": q.r.PostFormValue("old"), "new": q.r.PostFormValue("new")}, nil)
	var ae *apiError
	if errors.As(err, &ae) {
		c.render(q.w, q.r, ae.Status, "password", q.view("password.title", "", nil).withError(ae.Msg))
		return
	}
	if err != nil {
		c.fail(q, err)
		return
	}
	http.Redirect(q.w, q.r, "/", http.StatusSeeOther)
}
