package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/store"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, code int, e wire.Error) {
	writeJSON(w, code, e)
}

// fail answers with the status that fits err and a reason. Internal errors
// are logged and answered without their details.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *event.FieldError
	var be *badRequest
	switch {
	case errors.As(err, &be):
		writeError(w, be.code, be.body)
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, wire.Error{Error: fe.Error(), Field: fe.Field})
	case errors.Is(err, store.ErrInvalidID):
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error()})
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, wire.Error{Error: err.Error()})
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, wire.Error{Error: err.Error()})
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, wire.Error{Error: "internal error; see the server log"})
	}
}

// badRequest is a client error with its status and body.
type badRequest struct {
	code int
	body wire.Error
}

func (b *badRequest) Error() string { return b.body.Error }

func clientError(code int, msg string) error {
	return &badRequest{code: code, body: wire.Error{Error: msg}}
}
