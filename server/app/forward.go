package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"lachan/internal/atomicfile"
	"lachan/server/api"
	"lachan/server/forward"
	"lachan/server/incident"
	"lachan/server/indicator"
	"lachan/server/mask"
	"lachan/server/store"
	"lachan/server/unit"
)

// forward wires layer 4: masking, the outbox and its delivery, the
// indicator poll (when forward.upstream is set) and the TAXII receiver
// (when senders are registered). The delivery, forwarder and poll are
// added to the server's work.
func (s *Server) forward(cfg Config, st store.Store, units *unit.Registry, inc *incident.Manager, inds *indicator.Set,
	must func(context.Context, incident.Incident) bool) (deps api.ForwardDeps, err error) {
	log := s.log
	key, err := forward.LoadOrCreateKey(cfg.ForwardDir)
	if err != nil {
		return deps, err
	}
	policy, err := mask.LoadPolicy(cfg.Mask.Policy)
	if err != nil {
		return deps, err
	}
	mk, err := maskKey(cfg.Mask, cfg.ForwardDir)
	if err != nil {
		return deps, err
	}
	table := mask.NewStoreTable(st)
	masker, err := mask.New(policy, mk, table)
	if err != nil {
		return deps, err
	}
	deps.Tokens = table
	deps.Masker = masker
	if cfg.Forward.Enabled() {
		cl, err := forward.NewClient(cfg.Forward.Upstream, cfg.Forward.Name, key)
		if err != nil {
			return deps, err
		}
		out := forward.NewOutbox(st, cl, cfg.Forward.Delivery, log, nil)
		fwd := forward.NewForwarder(cfg.Forward, inc, units, masker, out, log)
		fwd.SetPolicy(must)
		deps.Outbox = out
		s.add("forward outbox", out.Run)
		s.add("forwarder", func(ctx context.Context) error { fwd.Run(ctx); return nil })
		if up := cfg.Forward.Upstream; up.IndicatorInterval > 0 && up.PublicKey != "" {
			sink := &indicatorSink{set: inds, st: st, inc: inc, log: log}
			pub, err := forward.ParsePublicKey(up.PublicKey)
			if err != nil {
				return deps, fmt.Errorf("forward.upstream.public_key: %w", err)
			}
			p := forward.NewPoller(cl, pub, st, sink, log)
			s.add("indicator poll", func(ctx context.Context) error { p.Run(ctx, up.IndicatorInterval); return nil })
		}
		log.Info("forwarding upstream", "url", cfg.Forward.Upstream.URL, "as", cfg.Forward.Name,
			"public_key", forward.FormatPublicKey(key.Public().(ed25519.PublicKey)))
	}
	if len(cfg.Forward.Receive.Senders) > 0 {
		rcv, err := forward.NewReceiver(cfg.Forward.Receive.Senders, st, inc, firstSet(cfg.Forward.Name, "lachan"), key, log, nil)
		if err != nil {
			return deps, err
		}
		deps.TAXII = rcv
		log.Info("upper tier: TAXII 2.1 at /taxii2/", "senders", len(cfg.Forward.Receive.Senders))
	}
	return deps, nil
}

// maskKey is mask.key from the configuration, else a random key kept in
// dir (made on first use).
func maskKey(c mask.Config, dir string) ([]byte, error) {
	if c.Key != "" {
		return []byte(c.Key), nil
	}
	path := filepath.Join(dir, "mask.key")
	if b, err := os.ReadFile(path); err == nil {
		return bytes.TrimSpace(b), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("mask key: %w", err)
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mask key: %w", err)
	}
	key := []byte(hex.EncodeToString(k[:]))
	return key, atomicfile.Write(path, append(key, '\n'), 0o600)
}

func firstSet(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// indicatorSink adds indicators from the upper tier to the server's one
// indicator set, the one ingest matches against, and sweeps the stored
// events for them, filing what it finds as incidents: the events that
// carry a new indicator were usually stored before it arrived.
type indicatorSink struct {
	set *indicator.Set
	st  store.Store
	inc *incident.Manager
	log *slog.Logger
}

func (s *indicatorSink) AddSTIX(ctx context.Context, b []byte, source string) (int, error) {
	inds, errs := indicator.ParseSTIX(bytes.NewReader(b), source)
	for _, e := range errs {
		s.log.Warn("indicator from upstream skipped", "err", e)
	}
	if len(inds) == 0 {
		return 0, nil
	}
	if err := s.set.Add(ctx, inds); err != nil {
		return 0, err
	}
	alerts, err := s.set.Sweep(ctx, s.st, store.Query{From: time.Now().Add(-indicator.DefaultConfig().SweepWindow)}, inds)
	if err != nil {
		return len(inds), fmt.Errorf("sweep: %w", err)
	}
	if len(alerts) > 0 {
		if _, err := s.inc.Raise(ctx, alerts); err != nil {
			return len(inds), err
		}
		if _, err := s.st.PutEvents(ctx, alerts); err != nil {
			return len(inds), err
		}
		s.log.Info("indicators from upstream matched stored events", "alerts", len(alerts))
	}
	return len(inds), nil
}
