package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/unit"
)

// maxSmallBody caps enrollment and check-in bodies.
const maxSmallBody = 256 << 10

func decodeSmall(r *http.Request, dst any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSmallBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return clientError(http.StatusBadRequest, "malformed request body: "+err.Error())
	}
	return nil
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Host.Name == "" || req.CSR == "" {
		writeError(w, http.StatusBadRequest, wire.Error{Error: "host.name and csr are required"})
		return
	}
	u, err := s.d.Units.BySecret(r.Context(), req.Secret)
	if errors.Is(err, unit.ErrBadSecret) {
		s.log.Warn("enrollment refused", "remote", r.RemoteAddr, "host", req.Host.Name)
		writeError(w, http.StatusUnauthorized, wire.Error{Error: "unknown enrollment secret"})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.d.Fleet.Enroll(r.Context(), u.ID, req.Host)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cert, err := s.d.PKI.SignAgent(req.CSR, a.ID, u.ID)
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "csr"})
		return
	}
	s.log.Info("agent enrolled", "agent", a.ID, "unit", u.ID, "host", req.Host.Name)
	writeJSON(w, http.StatusOK, wire.EnrollResponse{AgentID: a.ID, Unit: u.ID, Cert: cert, CA: string(s.d.PKI.CAPEM()),
		BundleKey: s.d.PKI.BundlePublicKey()})
}

func (s *Server) checkIn(w http.ResponseWriter, r *http.Request, a fleet.Agent) {
	var req wire.CheckInRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.d.Fleet.CheckIn(r.Context(), a.ID, req); err != nil {
		s.fail(w, r, err)
		return
	}
	resp := wire.CheckInResponse{Interval: s.cfg.CheckInInterval, RulesVersion: s.d.RulesVersion}
	if s.d.Live != nil {
		var err error
		if resp.Live, err = s.d.Live.Pending(r.Context(), a.ID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// rules hands an agent the signed rule bundle; the agent verifies it
// against the key it pinned at enrollment.
func (s *Server) rules(w http.ResponseWriter, r *http.Request, a fleet.Agent) {
	if len(s.d.Rules.Payload) == 0 {
		writeError(w, http.StatusNotFound, wire.Error{Error: "this server distributes no rule bundle"})
		return
	}
	writeJSON(w, http.StatusOK, s.d.Rules)
}

func (s *Server) ingest(w http.ResponseWriter, r *http.Request, a fleet.Agent) {
	evs, err := readBatch(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp, err := s.d.Pipeline.IngestAgent(r.Context(), a, evs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// renew issues a new certificate for a new key to an agent that proves,
// with its current certificate, who it is.
func (s *Server) renew(w http.ResponseWriter, r *http.Request, a fleet.Agent) {
	var req wire.RenewRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	cert, err := s.d.PKI.SignAgent(req.CSR, a.ID, a.Unit)
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "csr"})
		return
	}
	s.log.Info("agent certificate renewed", "agent", a.ID, "unit", a.Unit)
	writeJSON(w, http.StatusOK, wire.RenewResponse{Cert: cert})
}
