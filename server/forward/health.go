package forward

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// linkHealth is what the outbox last saw of its upstream.
type linkHealth struct {
	mu       sync.Mutex
	lastOK   time.Time
	lastFail time.Time
	lastErr  string
}

func (h *linkHealth) record(ok bool, at time.Time, err string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ok {
		h.lastOK = at
		return
	}
	h.lastFail, h.lastErr = at, err
}

// Healthy reports the upstream link for layer 4 coverage
// (system.UpstreamHealth): healthy while the last delivery attempt of this
// server succeeded, or none has failed and nothing waits; not healthy when
// the last attempt failed, or entries wait that were never tried. link is
// the system's name for the link; this server has one upstream, so every
// name is answered for it. The state is this process's own: a second
// replica answers for its own attempts.
func (o *Outbox) Healthy(link string) (bool, string) {
	o.health.mu.Lock()
	lastOK, lastFail, lastErr := o.health.lastOK, o.health.lastFail, o.health.lastErr
	o.health.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waiting := 0
	if entries, err := o.Entries(ctx); err == nil {
		for _, e := range entries {
			if e.State == StatePending {
				waiting++
			}
		}
	}
	since := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return o.now().Sub(t).Round(time.Second).String() + " ago"
	}
	switch {
	case !lastFail.IsZero() && lastFail.After(lastOK):
		return false, fmt.Sprintf("%s: last delivery failed %s (%s); last success %s; %d waiting", o.ad.Name(), since(lastFail), lastErr, since(lastOK), waiting)
	case lastOK.IsZero() && waiting > 0:
		return false, fmt.Sprintf("%s: %d waiting, none delivered yet", o.ad.Name(), waiting)
	}
	return true, fmt.Sprintf("%s: last success %s; %d waiting", o.ad.Name(), since(lastOK), waiting)
}
