package api

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"lachan/internal/event"
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
	src := remoteAddr(r)
	if err := s.enrollLimits.admit(src.String()); err != nil {
		s.throttled(w, r, err)
		return
	}
	var req wire.EnrollRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Host.Name == "" || req.CSR == "" {
		writeError(w, http.StatusBadRequest, wire.Error{Error: "host.name and csr are required"})
		return
	}
	if (req.Secret == "") == (req.Code == "") {
		writeError(w, http.StatusBadRequest, wire.Error{Error: "give either an enrollment secret or a one-time code", Field: "secret"})
		return
	}
	if err := checkCSR(req.CSR); err != nil {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "csr"})
		return
	}
	u, via, err := s.enrollUnit(r, req, src)
	if err != nil {
		if t, ok := asThrottled(err); ok {
			s.throttled(w, r, t)
			return
		}
		if errors.Is(err, unit.ErrBadSecret) || errors.Is(err, unit.ErrBadCode) {
			s.enrollLimits.failed(src.String())
			s.log.Warn("enrollment refused", "remote", src.String(), "host", req.Host.Name, "reason", err.Error())
			writeError(w, http.StatusUnauthorized, wire.Error{Error: err.Error()})
			return
		}
		s.fail(w, r, err)
		return
	}
	e := fleet.Enrollment{Unit: u.ID, Host: req.Host, Via: via, Source: src}
	if req.Code == "" {
		e.Limit = s.cfg.Enroll.MaxAgentsPerSecret
	}
	a, changes, err := s.d.Fleet.EnrollAgent(r.Context(), e)
	if errors.Is(err, fleet.ErrViaExhausted) {
		s.enrollLimits.failed(src.String())
		s.log.Warn("enrollment refused", "remote", src.String(), "host", req.Host.Name, "reason", err.Error())
		writeError(w, http.StatusUnauthorized, wire.Error{Error: fmt.Sprintf("%v (api.enroll.max_agents_per_secret %d)", errSecretExhausted, e.Limit)})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cert, serial, err := s.signAgent(req.CSR, a.ID, u.ID)
	if err == nil {
		err = s.d.Fleet.SetSerial(r.Context(), a.ID, serial, "", false)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.record(r, changes)
	s.log.Info("agent enrolled", "agent", a.ID, "unit", u.ID, "host", req.Host.Name, "via", via, "remote", src.String())
	writeJSON(w, http.StatusOK, wire.EnrollResponse{AgentID: a.ID, Unit: u.ID, Cert: cert, CA: string(s.d.PKI.CAPEM()),
		BundleKey: s.d.PKI.BundlePublicKey(), ActionKey: s.actionKey()})
}

// errSecretExhausted: the secret enrolled as many agents as it may.
var errSecretExhausted = errors.New("this enrollment secret has enrolled as many agents as it may; ask for a one-time code or a rotated secret")

// enrollUnit finds the unit an enrollment joins, by secret (within its
// rate; its agent limit is kept by the fleet's counter as the agent is
// recorded) or by one-time code (used up here).
func (s *Server) enrollUnit(r *http.Request, req wire.EnrollRequest, src netip.Addr) (unit.Unit, string, error) {
	ctx := r.Context()
	if req.Code != "" {
		u, id, err := s.d.Units.RedeemCode(ctx, req.Code, req.Host.Name+"@"+src.String(), time.Now())
		return u, "code:" + id, err
	}
	u, id, err := s.d.Units.MatchSecret(ctx, req.Secret, time.Now())
	if err != nil {
		return unit.Unit{}, "", err
	}
	if err := s.enrollLimits.admitSecret(id); err != nil {
		return unit.Unit{}, "", err
	}
	return u, "secret:" + id, nil
}

// throttled answers 429 with the Retry-After the limit gives.
func (s *Server) throttled(w http.ResponseWriter, r *http.Request, err error) {
	t, _ := asThrottled(err)
	s.log.Warn("enrollment throttled", "remote", r.RemoteAddr, "reason", t.what)
	w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(t.wait)))
	writeError(w, http.StatusTooManyRequests, wire.Error{Error: t.Error()})
}

// remoteAddr is the address the request's connection came from.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// checkCSR refuses a request that is not a self-signed PEM CSR before
// anything (a one-time code) is spent on it.
func checkCSR(csrPEM string) error {
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return errors.New("csr: not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return fmt.Errorf("csr signature: %w", err)
	}
	return nil
}

// signAgent issues the agent's certificate and returns it with its serial
// (hex), which the fleet records as the one that speaks for the agent.
func (s *Server) signAgent(csrPEM, id, unitID string) (string, string, error) {
	cert, err := s.d.PKI.SignAgent(csrPEM, id, unitID)
	if err != nil {
		return "", "", err
	}
	block, _ := pem.Decode([]byte(cert))
	if block == nil {
		return "", "", errors.New("signed certificate is not PEM")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", "", fmt.Errorf("signed certificate: %w", err)
	}
	return cert, c.SerialNumber.Text(16), nil
}

// record stores changes to agents as their history and files the alerts
// the notable ones raise. A failure is logged, not returned: the request
// that caused the change has already taken effect.
func (s *Server) record(r *http.Request, changes []fleet.Change) {
	if len(changes) == 0 {
		return
	}
	var evs, alerts []event.Event
	for _, c := range changes {
		ev, al := c.Event()
		evs = append(evs, ev)
		if al != nil {
			alerts = append(alerts, *al)
			s.log.Warn("agent identity change", "agent", c.Agent.ID, "unit", c.Agent.Unit, "change", c.Kind, "detail", c.Detail)
		}
	}
	if err := s.d.Pipeline.Record(r.Context(), evs, alerts); err != nil {
		s.log.Error("record agent changes", "err", err)
	}
}

func (s *Server) checkIn(w http.ResponseWriter, r *http.Request, a fleet.Agent) {
	var req wire.CheckInRequest
	if err := decodeSmall(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	_, changes, err := s.d.Fleet.CheckInFrom(r.Context(), a.ID, req, remoteAddr(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.record(r, changes)
	resp := wire.CheckInResponse{Interval: s.cfg.CheckInInterval, RulesVersion: s.rulesNow().version}
	if s.d.Telemetry != nil {
		chain, err := s.unitChain(r.Context(), a.Unit)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		resp.Telemetry = s.d.Telemetry.For(chain)
	}
	if s.d.Live != nil {
		var err error
		if resp.Live, err = s.d.Live.Pending(r.Context(), a.ID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if s.d.Actions != nil {
		resp.ActionKey = s.actionKey()
		if resp.Actions, err = s.d.Actions.Pending(r.Context(), a.ID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// actionKey is the public action key agents pin (nil: actions are off).
func (s *Server) actionKey() []byte {
	if s.d.Actions == nil {
		return nil
	}
	return s.d.Actions.PublicKey()
}

// rules hands an agent the signed rule bundle; the agent verifies it
// against the key it pinned at enrollment.
func (s *Server) rules(w http.ResponseWriter, r *http.Request, a fleet.Agent) {
	b := s.rulesNow()
	if len(b.signed.Payload) == 0 {
		writeError(w, http.StatusNotFound, wire.Error{Error: "this server distributes no rule bundle"})
		return
	}
	writeJSON(w, http.StatusOK, b.signed)
}

// ingest takes an agent's batch within the ingest gate's bounds (429 and
// Retry-After beyond them, before the body is read where it can be).
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, a fleet.Agent) {
	leave, err := s.ingestGate.enter()
	if err != nil {
		s.ingestGate.busy(w)
		return
	}
	evs, err := readBatch(w, r)
	if err == nil {
		err = checkAgentEvents(evs)
	}
	if err != nil {
		leave()
		s.fail(w, r, err)
		return
	}
	release, err := s.ingestGate.reserve(len(evs))
	// The slot bounds reading and decoding; from here the batch counts
	// by its events, so that the next batches decode and detect while
	// this one waits for its commit.
	leave()
	if err != nil {
		s.ingestGate.busy(w)
		return
	}
	defer release()
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
	if err := checkCSR(req.CSR); err != nil {
		writeError(w, http.StatusBadRequest, wire.Error{Error: err.Error(), Field: "csr"})
		return
	}
	cert, serial, err := s.signAgent(req.CSR, a.ID, a.Unit)
	if err == nil {
		err = s.d.Fleet.SetSerial(r.Context(), a.ID, serial, certSerial(r), true)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("agent certificate renewed", "agent", a.ID, "unit", a.Unit)
	writeJSON(w, http.StatusOK, wire.RenewResponse{Cert: cert})
}
