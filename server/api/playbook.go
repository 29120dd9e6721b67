package api

import (
	"context"
	"errors"
	"net/http"

	"lachan/internal/wire"
	"lachan/server/notify"
	"lachan/server/playbook"
)

// PathNotifications lists the notification queue; PathNotifications/{id}/retry
// puts a dead message back.
const PathNotifications = "/api/v1/notifications"

// PlaybookRuns reads an incident's playbook runs; *playbook.Engine is one.
type PlaybookRuns interface {
	Runs(ctx context.Context, incidentID string) ([]playbook.Run, error)
}

// Notifications is the notification queue; *notify.Queue is one.
type Notifications interface {
	List(ctx context.Context) ([]notify.Entry, error)
	Retry(ctx context.Context, id string) error
}

// playbookRoutes serves an incident's runs to whoever may read the
// incident, and the notification queue, which holds every unit's
// incidents, to administrators (the dead-letters permission).
func (s *Server) playbookRoutes(mux *http.ServeMux) {
	s.route(mux, "GET "+wire.PathIncidents+"/{id}/playbooks", PermIncidentsRead, s.incidentPlaybooks)
	s.route(mux, "GET "+PathNotifications, PermDeadLetters, s.listNotifications)
	s.route(mux, "POST "+PathNotifications+"/{id}/retry", PermDeadLetters, s.retryNotification)
}

// PlaybookRunsPage is the answer of GET /incidents/{id}/playbooks.
type PlaybookRunsPage struct {
	Runs []playbook.Run `json:"runs"`
}

func (s *Server) incidentPlaybooks(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.d.Playbooks == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "playbooks are not enabled on this server"})
		return
	}
	id, ok := s.incidentID(w, r, p, r.PathValue("id"))
	if !ok {
		return
	}
	runs, err := s.d.Playbooks.Runs(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i := range runs {
		// The alert's fields may be personal data; the steps say what was done.
		runs[i].Data.Alert = nil
	}
	if runs == nil {
		runs = []playbook.Run{}
	}
	writeJSON(w, http.StatusOK, PlaybookRunsPage{Runs: runs})
}

// NotificationsPage is the answer of GET PathNotifications.
type NotificationsPage struct {
	Messages []notify.Entry `json:"messages"`
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.d.Notifications == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "notifications are not enabled on this server"})
		return
	}
	list, err := s.d.Notifications.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []notify.Entry{}
	}
	writeJSON(w, http.StatusOK, NotificationsPage{Messages: list})
}

func (s *Server) retryNotification(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.d.Notifications == nil {
		writeError(w, http.StatusServiceUnavailable, wire.Error{Error: "notifications are not enabled on this server"})
		return
	}
	id := r.PathValue("id")
	if err := idsError("id", []string{id}); err != nil {
		s.fail(w, r, err)
		return
	}
	err := s.d.Notifications.Retry(r.Context(), id)
	s.audit(r, p, "notify.retry", id, outcome(err), nil)
	if errors.Is(err, notify.ErrNotDead) {
		s.fail(w, r, clientError(http.StatusConflict, err.Error()))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("dead notification queued again", "by", p.Name, "id", id)
	writeJSON(w, http.StatusOK, map[string]string{"queued": id})
}
