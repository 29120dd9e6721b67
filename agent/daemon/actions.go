package daemon

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"lachan/agent/action"
	"lachan/agent/client"
	"lachan/internal/wire"
)

// setupActions opens the response-action executor in the state directory.
func (d *Daemon) setupActions() error {
	ac := d.cfg.Actions
	if ac.CollectMaxBytes == 0 {
		ac.CollectMaxBytes = action.DefaultConfig().CollectMaxBytes
	}
	if ac.Dir == "" {
		ac.Dir = filepath.Join(d.cfg.StateDir, "actions")
	}
	if ac.Server == "" {
		ac.Server, ac.Proxy = d.cfg.Server, d.cfg.Transport.Proxy
	}
	var osq func(id, sql string) error
	if d.ext != nil {
		osq = d.ext.Enqueue
	}
	x, err := action.New(ac, d.cl.ID.AgentID, func() ed25519.PublicKey { return d.cl.ActionKey() }, osq, d.log.With("component", "action"))
	if err != nil {
		return fmt.Errorf("response actions: %w", err)
	}
	d.acts = x
	return nil
}

// restoreActions applies again the isolation and blocks kept on disk,
// before the agent talks to anyone.
func (d *Daemon) restoreActions(ctx context.Context) {
	if err := d.acts.Restore(ctx); err != nil {
		d.log.Error("response action state not applied again", "err", err)
	}
}

// actionLoop sends action results until the server has them.
func (d *Daemon) actionLoop(ctx context.Context) { d.acts.Run(ctx, d.cl) }

// handleActions pins the action key a check-in carries (once) and runs
// the actions it carries.
func (d *Daemon) handleActions(ctx context.Context, resp wire.CheckInResponse) {
	pinned, err := d.cl.PinActionKey(resp.ActionKey)
	switch {
	case errors.Is(err, client.ErrActionKeyChanged):
		d.log.Error("action key not replaced", "err", err)
	case err != nil:
		d.log.Error("action key not pinned", "err", err)
	case pinned:
		d.log.Info("action key pinned from the server's check-in answer")
	}
	if len(resp.Actions) > 0 {
		d.acts.Handle(ctx, resp.Actions)
	}
}

// actionStatus adds isolation and undelivered results to the status.
func (d *Daemon) actionStatus(st *wire.Status) {
	if d.acts == nil {
		return
	}
	iso, isolated, err := d.acts.Isolated()
	if isolated {
		st.Isolated = iso.Since
		if st.Isolated.IsZero() {
			st.Isolated = time.Unix(1, 0).UTC() // isolated, start unknown
		}
	}
	if err != nil {
		st.Errors = append(st.Errors, "isolation state: "+err.Error())
	}
	st.ActionResults = d.acts.Waiting()
}
