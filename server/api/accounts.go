package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"lachan/internal/wire"
	"lachan/server/store"
	"lachan/server/user"
)

// Paths of logins, accounts and tokens.
const (
	PathLogin    = "/api/v1/login"
	PathLogout   = "/api/v1/logout"
	PathPassword = "/api/v1/password"
	PathWhoami   = "/api/v1/whoami"
	PathUsers    = "/api/v1/users"
	PathTokens   = "/api/v1/tokens"
)

func (s *Server) accountRoutes(mux *http.ServeMux) {
	s.open(mux, "POST "+PathLogin, "public", s.login)
	s.route(mux, "POST "+PathLogout, PermSelf, s.logout)
	s.route(mux, "POST "+PathPassword, PermSelf, s.changePassword)
	s.route(mux, "GET "+PathWhoami, PermSelf, s.whoami)
	s.route(mux, "GET "+PathUsers, PermUsersAdmin, s.listUsers)
	s.route(mux, "POST "+PathUsers, PermUsersAdmin, s.addUser)
	s.route(mux, "POST "+PathUsers+"/{name}/disable", PermUsersAdmin, s.userState("user.disable", "account disabled", (*user.Manager).Disable))
	s.route(mux, "POST "+PathUsers+"/{name}/enable", PermUsersAdmin, s.userState("user.enable", "account enabled", (*user.Manager).Enable))
	s.route(mux, "POST "+PathUsers+"/{name}/reset-password", PermUsersAdmin, s.resetPassword)
	s.route(mux, "POST "+PathUsers+"/{name}/totp", PermUsersAdmin, s.enrollTOTP)
	s.route(mux, "GET "+PathTokens, PermTokensAdmin, s.listTokens)
	s.route(mux, "POST "+PathTokens, PermTokensAdmin, s.issueToken)
	s.route(mux, "DELETE "+PathTokens+"/{name}", PermTokensAdmin, s.revokeToken)
}

// users answers 503 when accounts are off.
func (s *Server) users(w http.ResponseWriter) *user.Manager {
	if s.d.Users == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "accounts are not enabled on this server"})
	}
	return s.d.Users
}

// LoginRequest is the body of POST PathLogin.
type LoginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	TOTP     string `json:"totp,omitempty"`
}

// LoginResponse carries the session token, shown once; the CLI sends it
// as a bearer token.
type LoginResponse struct {
	Token      string    `json:"token"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	Expires    time.Time `json:"expires"`
	IdleSecs   int       `json:"idle_timeout_s"`
	MustChange bool      `json:"must_change"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	um := s.users(w)
	if um == nil {
		return
	}
	var req LoginRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	src := remoteAddr(r).String()
	who := Principal{Name: req.Name}
	o, err := um.Login(r.Context(), user.Login{Name: req.Name, Password: req.Password, TOTP: req.TOTP, Source: src})
	var te *user.ThrottledError
	switch {
	case errors.As(err, &te):
		s.audit(r, who, "login", req.Name, "throttled", nil)
		s.log.Warn("login throttled", "name", req.Name, "remote", src, "reason", te.What)
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(te.Wait)))
		writeError(w, http.StatusTooManyRequests, wire.Error{Error: te.Error()})
		return
	case errors.Is(err, user.ErrNeedsCode):
		writeError(w, http.StatusUnauthorized, wire.Error{Error: err.Error(), Field: "totp"})
		return
	case errors.Is(err, user.ErrBadLogin), errors.Is(err, user.ErrNeedsTOTP):
		s.audit(r, who, "login", req.Name, "failed", map[string]any{"reason": err.Error()})
		s.log.Warn("login refused", "name", req.Name, "remote", src, "reason", err.Error())
		writeError(w, http.StatusUnauthorized, wire.Error{Error: err.Error()})
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	who.Role = o.User.Role
	s.audit(r, who, "login", o.User.Name, "ok", map[string]any{"must_change": o.User.MustChange})
	s.log.Info("login", "name", o.User.Name, "role", o.User.Role, "remote", src)
	writeJSON(w, http.StatusOK, LoginResponse{Token: o.Secret, Name: o.User.Name, Role: o.User.Role, Expires: o.Session.Expires,
		IdleSecs: int(um.Config().SessionIdle.Seconds()), MustChange: o.User.MustChange})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, p Principal) {
	if p.Kind != "session" {
		writeError(w, http.StatusBadRequest, wire.Error{Error: "a token has no session to end: revoke it (lachan tokens revoke)"})
		return
	}
	if err := s.d.Users.Logout(r.Context(), p.session); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "logout", p.Name, "ok", nil)
	writeJSON(w, http.StatusOK, map[string]string{"name": p.Name})
}

// PasswordRequest changes the caller's own password.
type PasswordRequest struct {
	Old string `json:"old"`
	New string `json:"new"`
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p Principal) {
	if p.Kind != "session" {
		writeError(w, http.StatusBadRequest, wire.Error{Error: "a token has no password: log in as a person (lachan login)"})
		return
	}
	var req PasswordRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	err := s.d.Users.ChangePassword(r.Context(), p.Name, req.Old, req.New, p.session)
	if errors.Is(err, user.ErrWeakPassword) {
		s.audit(r, p, "password.change", p.Name, "failed", map[string]any{"reason": err.Error()})
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "new"})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "password.change", p.Name, "ok", nil)
	writeJSON(w, http.StatusOK, map[string]string{"name": p.Name})
}

// Whoami is the caller as the server sees it.
type Whoami struct {
	Name        string   `json:"name"`
	Role        string   `json:"role"`
	Kind        string   `json:"kind"`
	Units       []string `json:"units"`
	MustChange  bool     `json:"must_change,omitempty"`
	Permissions []Perm   `json:"permissions"`
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p Principal) {
	writeJSON(w, http.StatusOK, Whoami{Name: p.Name, Role: p.Role, Kind: p.Kind, Units: p.Units, MustChange: p.MustChange, Permissions: rolePerms[p.Role]})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p Principal) {
	um := s.users(w)
	if um == nil {
		return
	}
	list, err := um.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": list})
}

// UserRequest adds an account.
type UserRequest struct {
	Name  string   `json:"name"`
	Role  string   `json:"role"`
	Units []string `json:"units,omitempty"`
	Email string   `json:"email,omitempty"`
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request, p Principal) {
	um := s.users(w)
	if um == nil {
		return
	}
	var req UserRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := errors.Join(idsError("units", req.Units), user.CheckName(req.Name)); err != nil {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "name"})
		return
	}
	if err := CheckGrant(r.Context(), s.d.Units, req.Role, req.Units); err != nil {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "role"})
		return
	}
	a, err := um.Add(r.Context(), user.User{Name: req.Name, Role: req.Role, Units: req.Units, Email: req.Email})
	if errors.Is(err, user.ErrExists) {
		writeError(w, http.StatusConflict, wire.Error{Error: err.Error(), Field: "name"})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "user.add", req.Name, "ok", map[string]any{"role": req.Role, "units": req.Units, "totp": a.TOTP != nil})
	s.log.Info("account added", "name", req.Name, "role", req.Role, "by", p.Name)
	writeJSON(w, http.StatusOK, a)
}

// userState returns the handler that applies change (disable or enable) to
// the named account, audits it as action and logs msg.
func (s *Server) userState(action, msg string, change func(*user.Manager, context.Context, string) (user.User, error)) func(http.ResponseWriter, *http.Request, Principal) {
	return func(w http.ResponseWriter, r *http.Request, p Principal) {
		um := s.users(w)
		if um == nil {
			return
		}
		u, err := change(um, r.Context(), r.PathValue("name"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit(r, p, action, u.Name, "ok", nil)
		s.log.Warn(msg, "name", u.Name, "by", p.Name)
		writeJSON(w, http.StatusOK, u)
	}
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request, p Principal) {
	um := s.users(w)
	if um == nil {
		return
	}
	name := r.PathValue("name")
	pw, err := um.ResetPassword(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "user.reset-password", name, "ok", nil)
	s.log.Warn("password reset", "name", name, "by", p.Name)
	writeJSON(w, http.StatusOK, map[string]string{"name": name, "password": pw})
}

func (s *Server) enrollTOTP(w http.ResponseWriter, r *http.Request, p Principal) {
	um := s.users(w)
	if um == nil {
		return
	}
	name := r.PathValue("name")
	t, err := um.EnrollTOTP(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "user.totp", name, "ok", nil)
	s.log.Warn("second factor enrolled", "name", name, "by", p.Name)
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p Principal) {
	list, err := s.d.Tokens.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
}

// TokenRequest issues a token; Expires zero never ends it.
type TokenRequest struct {
	Name    string        `json:"name"`
	Role    string        `json:"role"`
	Units   []string      `json:"units,omitempty"`
	Expires time.Duration `json:"expires_ns,omitempty"`
}

// Issued is a new token, its secret shown once.
type Issued struct {
	Token  string `json:"token"`
	Issued Token  `json:"issued"`
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, p Principal) {
	var req TokenRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Expires < 0 {
		writeError(w, http.StatusBadRequest, wire.Error{Error: "expires: not negative", Field: "expires_ns"})
		return
	}
	if err := idsError("units", req.Units); err != nil {
		s.fail(w, r, err)
		return
	}
	tok := Token{Name: req.Name, Role: req.Role, Units: req.Units, By: p.Name}
	if req.Expires > 0 {
		tok.Expires = time.Now().UTC().Add(req.Expires).Truncate(time.Second)
	}
	secret, err := s.d.Tokens.Issue(r.Context(), tok)
	switch {
	case errors.Is(err, ErrTokenExists):
		writeError(w, http.StatusConflict, wire.Error{Error: err.Error(), Field: "name"})
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error()})
		return
	}
	s.audit(r, p, "token.issue", req.Name, "ok", map[string]any{"role": req.Role, "units": req.Units, "expires": tok.Expires})
	s.log.Info("token issued", "name", req.Name, "role", req.Role, "by", p.Name)
	writeJSON(w, http.StatusOK, Issued{Token: secret, Issued: tok})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p Principal) {
	name := r.PathValue("name")
	tok, err := s.d.Tokens.Revoke(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, wire.Error{Error: "no token named " + name})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, p, "token.revoke", name, "ok", map[string]any{"role": tok.Role})
	s.log.Warn("token revoked", "name", name, "by", p.Name)
	writeJSON(w, http.StatusOK, tok)
}
