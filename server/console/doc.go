// Package console is the SOC's web interface: server-rendered pages
// (html/template) for analysts, responders and auditors, Vietnamese first.
//
// The console holds no permission model of its own. Every page reads and
// every form writes through the REST API's own handlers, called in the
// same process with the session of the person at the browser as bearer
// token (backend.go): what a role may see or do, the unit scoping and
// the audit records are exactly the API's. What the console adds is the
// browser's side of security: the session in a Secure, HttpOnly,
// SameSite=Strict cookie, a CSRF token and an Origin check on every
// POST, a Content-Security-Policy without inline script, and values
// rendered as text (terminal escape codes made visible).
package console
