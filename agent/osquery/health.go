package osquery

import "sync"

// health is what the extension or the runner last knew of osqueryd: "ok",
// or "osquery unavailable: <reason>". It is safe for concurrent use.
type health struct {
	mu sync.Mutex
	s  string
}

func (h *health) get() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.s
}

// set records the outcome of the last contact with osqueryd.
func (h *health) set(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.s = "ok"
	} else {
		h.s = ErrUnavailable.Error() + ": " + err.Error()
	}
}
