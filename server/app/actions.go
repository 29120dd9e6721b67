package app

import (
	"context"
	"fmt"
	"time"

	actions "lachan/server/action"
	"lachan/server/audit"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/pki"
	"lachan/server/store"
	"lachan/server/system"
)

// actions makes the response-action service with its own signing key
// under the PKI directory. A Config made without the actions section
// (a zero TTL) takes the defaults.
func (s *Server) actions(cfg Config, st store.Store, fl *fleet.Fleet, systems *system.Registry, trail *audit.Trail, inc *incident.Manager) (*actions.Service, error) {
	ac := cfg.Actions
	if ac.TTL == 0 {
		ac = actions.DefaultConfig()
	}
	if err := ac.Validate(); err != nil {
		return nil, err
	}
	key, err := pki.LoadOrCreateActionKey(cfg.PKIDir)
	if err != nil {
		return nil, fmt.Errorf("action key: %w", err)
	}
	var sys actions.Systems
	if systems != nil {
		sys = systems
	}
	svc := actions.New(ac, st, fl, sys, trail, key, s.log, nil)
	svc.SetIncidents(inc)
	s.add("action expiry", func(ctx context.Context) error { return svc.RunExpiry(ctx, time.Minute) })
	return svc, nil
}
