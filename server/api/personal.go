package api

import (
	"net/http"

	"lachan/internal/event"
)

// withoutPersonalData masks the fields of evs by the masking policy for a
// caller without PermPersonalData (an auditor), and passes them through for
// one with it. The pseudonyms are remembered like those sent upstream, so
// an administrator can name the person behind one (lachan forward
// reidentify). Without a masker nothing is shown rather than raw data.
func (s *Server) withoutPersonalData(r *http.Request, p Principal, evs []event.Event) ([]event.Event, error) {
	if p.can(PermPersonalData) {
		return evs, nil
	}
	if s.d.Forward.Masker == nil {
		return []event.Event{}, nil
	}
	ms := s.d.Forward.Masker.Session()
	out := make([]event.Event, len(evs))
	for i, ev := range evs {
		ev.Fields = ms.Fields(ev.Fields)
		out[i] = ev
	}
	if err := ms.Commit(r.Context()); err != nil {
		return nil, err
	}
	return out, nil
}
