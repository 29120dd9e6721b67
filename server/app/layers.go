package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"lachan/server/audit"
	"lachan/server/fleet"
	"lachan/server/forward"
	"lachan/server/incident"
	"lachan/server/store"
	"lachan/server/system"
	"lachan/server/unit"
)

// fourLayers wires the system registry: incidents routed through it, the
// systems file applied, the policies loaded, and the deadline watcher
// added to the server's work.
func (s *Server) fourLayers(ctx context.Context, cfg Config, st store.Store, units *unit.Registry, fl *fleet.Fleet,
	inc *incident.Manager, link system.UpstreamHealth, trail *audit.Trail) (*system.Registry, *system.Coverage, error) {
	reg := system.NewRegistry(st, units, nil)
	reg.OnChange(systemChanges(trail, s.log))
	inc.SetRouter(reg)
	if cfg.System.File != "" {
		list, err := system.LoadFile(cfg.System.File)
		if err != nil {
			return nil, nil, err
		}
		n, err := reg.Apply(ctx, list, "config")
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", cfg.System.File, err)
		}
		s.log.Info("systems applied", "file", cfg.System.File, "systems", len(list), "changed", n)
	}
	pol, err := system.LoadPolicies(cfg.System.PoliciesFile)
	if err != nil {
		return nil, nil, err
	}
	w := incident.NewWatcher(inc, s.log)
	s.add("incident deadlines", func(ctx context.Context) error { w.Run(ctx); return nil })
	return reg, system.NewCoverage(reg, fl, st, pol, link, cfg.System, nil), nil
}

// upstreamLink answers layer 4's health for coverage from the forwarding
// outbox, which is built after the registry.
type upstreamLink struct {
	out atomic.Pointer[forward.Outbox]
}

func (u *upstreamLink) set(o *forward.Outbox) {
	if o != nil {
		u.out.Store(o)
	}
}

// Healthy implements system.UpstreamHealth.
func (u *upstreamLink) Healthy(link string) (bool, string) {
	if o := u.out.Load(); o != nil {
		return o.Healthy(link)
	}
	return false, "chưa cấu hình kết nối lên cấp trên / forwarding is not configured (forward.upstream.url)"
}

// upstreamPolicy says an incident must go up when the policy of the level
// of any information system it touches names its severity.
func upstreamPolicy(reg *system.Registry, pol system.Policies, log *slog.Logger) func(context.Context, incident.Incident) bool {
	return func(ctx context.Context, inc incident.Incident) bool {
		for _, id := range inc.Systems {
			sys, err := reg.Get(ctx, id)
			if err != nil {
				log.Warn("forwarding policy: system of an incident unreadable", "incident", inc.ID, "system", id, "err", err)
				continue
			}
			if p, ok := pol.For(sys.Level); ok && p.MustForward(inc.Severity) {
				return true
			}
		}
		return false
	}
}
