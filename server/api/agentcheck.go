package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/store"
)

// reservedDatasets are written by the server (lachan.*: alerts, agent
// history, audit) or by sensors (network.*: flows, DNS, TLS, HTTP). An
// agent that sends them is refused, so that it can neither forge an alert
// nor put network records on another PC.
var reservedDatasets = []string{"lachan.", "network."}

// checkAgentEvents refuses a batch holding an event in a reserved
// dataset, naming its line and the field.
func checkAgentEvents(evs []event.Event) error {
	for i, ev := range evs {
		for _, p := range reservedDatasets {
			if strings.HasPrefix(ev.Dataset, p) {
				return &badRequest{code: http.StatusBadRequest, body: wire.Error{
					Error: fmt.Sprintf("line %d: event.dataset %q is reserved (%s* is written by the server or a sensor, never by an agent)", i+1, ev.Dataset, p),
					Line:  i + 1, Field: event.FieldDataset}}
			}
		}
	}
	return nil
}

// certSerial is the serial (hex) of the client certificate of r.
func certSerial(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return ""
	}
	return r.TLS.VerifiedChains[0][0].SerialNumber.Text(16)
}

// agentOnly wraps a handler with client-certificate authentication: the
// certificate must chain to our CA (checked by TLS), name an enrolled,
// unrevoked agent of the unit it was issued for, and be one the server
// holds for that agent (not replaced by a reinstall or a renewal).
func (s *Server) agentOnly(h func(http.ResponseWriter, *http.Request, fleet.Agent)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			writeError(w, http.StatusUnauthorized, wire.Error{Error: "client certificate required: enroll first"})
			return
		}
		cert := r.TLS.VerifiedChains[0][0]
		unit := ""
		if len(cert.Subject.OrganizationalUnit) == 1 {
			unit = cert.Subject.OrganizationalUnit[0]
		}
		a, err := s.d.Fleet.Authorize(r.Context(), cert.Subject.CommonName, unit, certSerial(r))
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusForbidden, wire.Error{Error: "agent not enrolled, removed or moved to another unit: enroll again"})
		case errors.Is(err, fleet.ErrRevoked), errors.Is(err, fleet.ErrStaleCertificate):
			s.log.Warn("agent certificate refused", "agent", cert.Subject.CommonName, "serial", certSerial(r), "remote", r.RemoteAddr, "reason", err.Error())
			writeError(w, http.StatusForbidden, wire.Error{Error: err.Error()})
		case err != nil:
			s.fail(w, r, err)
		default:
			h(w, r, a)
		}
	}
}
