package api

import (
	"net/http"

	"lachan/internal/wire"
)

// caCert answers the CA certificate in PEM. It is public data: an agent
// being enrolled has no way yet to trust this connection, so it checks the
// certificate against the fingerprint its operator copied from
// `lachan ca` and only then trusts the TLS session it came over.
func (s *Server) caCert(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", wire.ContentTypePEM)
	w.Header().Set("X-Lachan-CA-SHA256", s.d.PKI.Fingerprint())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.d.PKI.CAPEM())
}
