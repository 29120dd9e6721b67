package osquery

import (
	"log/slog"
	"sync"
	"time"
)

// announcer says once that osquery cannot be reached, and once that it is
// back, instead of a warning at every retry: on a PC without osquery (it
// is recommended, not required) the agent keeps working on YARA and
// telemetry, and a line every few seconds would bury everything else.
type announcer struct {
	log    *slog.Logger
	socket string
	mu     sync.Mutex
	down   bool
}

func (a *announcer) unavailable(err error, retry time.Duration) {
	a.mu.Lock()
	first := !a.down
	a.down = true
	a.mu.Unlock()
	if first {
		a.log.Warn("osquery không kết nối được; agent vẫn chạy không có nó / osquery unavailable: the agent works without it (YARA, telemetry) and joins osqueryd when it appears",
			"socket", a.socket, "err", err)
		return
	}
	a.log.Debug("osquery still unavailable", "retry_in", retry.Round(time.Millisecond).String(), "err", err)
}

func (a *announcer) available() {
	a.mu.Lock()
	was := a.down
	a.down = false
	a.mu.Unlock()
	if was {
		a.log.Info("osquery available again", "socket", a.socket)
	}
}
