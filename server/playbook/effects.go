package playbook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"lachan/internal/event"
	"lachan/server/incident"
	"lachan/server/notify"
)

// engineFX carries out steps for real: response actions through Actions,
// notifications through the queue, notes and resolutions through the
// incident manager.
type engineFX struct{ e *Engine }

var _ effects = (*engineFX)(nil)

func (f *engineFX) now() time.Time { return f.e.d.Now().UTC() }

func (f *engineFX) request(ctx context.Context, r ActionRequest) (string, error) {
	if f.e.d.Actions == nil {
		return "", fmt.Errorf("%s: %w", r.Kind, errNoActions)
	}
	if !strings.Contains(r.Key, "/undo/") {
		inc, err := f.e.d.Incidents.Get(ctx, r.Incident)
		if err != nil {
			return "", err
		}
		if inc.Status == incident.StatusResolved {
			return "", fmt.Errorf("%w: the incident is resolved", errUnavailable)
		}
	}
	return f.e.d.Actions.RequestAction(ctx, r)
}

// errNoActions says the server runs without response actions.
var errNoActions = fmt.Errorf("response actions are %w", errUnavailable)

func (f *engineFX) status(ctx context.Context, id string) (ActionStatus, error) {
	if f.e.d.Actions == nil {
		return ActionStatus{}, errNoActions
	}
	return f.e.d.Actions.ActionStatus(ctx, id)
}

func (f *engineFX) cancel(ctx context.Context, id, reason string) error {
	if f.e.d.Actions == nil {
		return errNoActions
	}
	return f.e.d.Actions.CancelAction(ctx, id, "playbook", reason)
}

// notify queues the message under an ID derived from the step's key, so
// that carrying the step out again queues nothing more.
func (f *engineFX) notify(ctx context.Context, key, channel string, m *Message, d Data) error {
	if f.e.d.Notify == nil || !f.e.d.Notify.HasChannel(channel) {
		return fmt.Errorf("notification channel %q is %w (notify.channels)", channel, errUnavailable)
	}
	if m == nil {
		return templateError{fmt.Errorf("no notification template for channel %s", channel)}
	}
	subject, text, err := m.Render(d)
	if err != nil {
		return templateError{err}
	}
	msg := notify.Message{
		ID: event.DeriveID("notify", key), Channel: channel, Subject: subject, Text: text,
		Data: map[string]any{
			"incident": d.Incident.ID, "severity": d.Incident.Severity, "unit": d.Incident.Unit,
			"host": d.Incident.Host.ID, "host_name": d.Incident.Host.Name, "systems": d.Incident.Systems,
			"playbook": d.Playbook.ID, "template": m.Name,
		},
	}
	err = f.e.d.Notify.Enqueue(ctx, msg)
	if errors.Is(err, notify.ErrNoChannel) {
		return fmt.Errorf("%w: %v", errUnavailable, err)
	}
	return err
}

// note adds the note unless the run's playbook already added the same
// one (this step, before a restart).
func (f *engineFX) note(ctx context.Context, r *Run, text string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return templateError{errors.New("the note is empty for this incident")}
	}
	inc, err := f.e.d.Incidents.Get(ctx, r.Incident)
	if err != nil {
		return err
	}
	for _, n := range inc.Notes {
		if n.Author == actor(r) && n.Text == text {
			return nil
		}
	}
	_, err = f.e.d.Incidents.AddNote(ctx, r.Incident, actor(r), text)
	if errors.Is(err, incident.ErrBadNote) {
		return templateError{err}
	}
	return err
}

// resolve closes the incident; one resolved already (by this step before
// a restart, or by a person) is left as it is.
func (f *engineFX) resolve(ctx context.Context, r *Run, resolution, note string) error {
	inc, err := f.e.d.Incidents.Get(ctx, r.Incident)
	if err != nil {
		return err
	}
	if inc.Status == incident.StatusResolved {
		return nil
	}
	_, err = f.e.d.Incidents.Resolve(ctx, r.Incident, actor(r), incident.Closing{As: resolution, Note: note})
	if errors.Is(err, incident.ErrTransition) || errors.Is(err, incident.ErrResolution) || errors.Is(err, incident.ErrBadNote) {
		return templateError{err}
	}
	return err
}

// context writes what the server knows of the incident into the step's
// detail: host, unit, systems and level, rules, addresses.
func (f *engineFX) context(_ context.Context, r *Run) (string, error) {
	inc := r.Data.Incident
	var b strings.Builder
	fmt.Fprintf(&b, "máy / host %s", inc.Host.ID)
	if inc.Host.Name != "" {
		fmt.Fprintf(&b, " (%s)", inc.Host.Name)
	}
	if len(inc.Host.IPs) > 0 {
		fmt.Fprintf(&b, " [%s]", strings.Join(inc.Host.IPs, ", "))
	}
	fmt.Fprintf(&b, "; đơn vị / unit %s", inc.Unit)
	if len(inc.Systems) > 0 {
		fmt.Fprintf(&b, "; hệ thống / systems %s, cấp độ / level %d", strings.Join(inc.Systems, ", "), inc.Level)
	}
	fmt.Fprintf(&b, "; %d cảnh báo / alerts, quy tắc / rules %s", inc.AlertCount, strings.Join(inc.Rules, ", "))
	if len(inc.Addresses) > 0 {
		fmt.Fprintf(&b, "; địa chỉ / addresses %s", strings.Join(inc.Addresses, ", "))
	}
	return b.String(), nil
}

func (f *engineFX) record(ctx context.Context, r *Run, rec StepRecord) {
	detail := map[string]any{"step": rec.Step, "kind": rec.Kind, "what": rec.What, "outcome": rec.Outcome}
	if rec.Detail != "" {
		detail["detail"] = rec.Detail
	}
	if rec.ActionID != "" {
		detail["action"] = rec.ActionID
	}
	if len(rec.By) > 0 {
		detail["by"] = rec.By
	}
	f.e.history(ctx, r, detail)
	f.e.log.Info("playbook step", "playbook", r.Playbook, "incident", r.Incident, "step", rec.Step, "what", rec.What, "outcome", rec.Outcome)
}

func (f *engineFX) save(ctx context.Context, r *Run) error {
	r.Updated = f.now()
	return f.e.putRun(ctx, r)
}
