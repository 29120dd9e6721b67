package app

import (
	"context"
	"fmt"
	"os"

	"lachan/playbooks"
	actions "lachan/server/action"
	"lachan/server/api"
	"lachan/server/incident"
	"lachan/server/notify"
	"lachan/server/playbook"
	"lachan/server/store"
	"lachan/server/system"
)

// playbooks wires the notification queue and the playbook engine: the
// engine hears of incidents raised and changed, and both run as workers.
// Contain steps request response actions from acts (nil: they end as
// unavailable).
func (s *Server) playbooks(cfg Config, st store.Store, inc *incident.Manager, systems *system.Registry, acts *actions.Service, deps *api.Deps) error {
	q := notify.NewQueue(st, cfg.Notify, s.log, nil)
	s.add("notifications", q.Run)
	deps.Notifications = q
	if !cfg.Playbook.Enabled {
		return nil
	}
	set, err := loadPlaybooks(cfg.Playbook.Dir)
	if err != nil {
		return err
	}
	for _, pb := range set.Playbooks {
		for _, st := range pb.Steps {
			if st.Kind == playbook.KindNotify && !q.HasChannel(st.Channel) {
				s.log.Warn("a playbook notifies a channel that is not configured; its notify steps will end as unavailable",
					"playbook", pb.ID, "file", pb.File, "step", st.Name, "channel", st.Channel)
			}
		}
	}
	var pa playbook.Actions
	if acts != nil {
		pa = acts.ForPlaybooks()
	}
	eng := playbook.New(cfg.Playbook, playbook.Deps{
		Store: st, Incidents: inc, Set: set, Notify: q, Actions: pa, Log: s.log, Level: levelOf(systems),
	})
	audited := inc.OnChange
	inc.OnChange = func(ctx context.Context, actor, action, id string, detail map[string]any) {
		if audited != nil {
			audited(ctx, actor, action, id, detail)
		}
		eng.Changed(ctx, actor, action, id, detail)
	}
	inc.OnRaised = eng.Raised
	deps.Playbooks = eng
	s.add("playbooks", eng.Run)
	s.log.Info("playbooks loaded", "playbooks", len(set.Playbooks), "dir", cfg.Playbook.Dir)
	return nil
}

// loadPlaybooks loads the directory, or the shipped playbooks; any error
// stops the start with its file:line:col.
func loadPlaybooks(dir string) (*playbook.Set, error) {
	set, errs := playbook.Load(playbooks.FS, ".", "playbooks")
	if dir != "" {
		set, errs = playbook.Load(os.DirFS(dir), ".", dir)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("playbook.dir: %w", joinLines(errs))
	}
	return set, nil
}

type lines []error

func (l lines) Error() string {
	s := ""
	for _, e := range l {
		s += "\n  " + e.Error()
	}
	return s
}

func joinLines(errs []error) error { return lines(errs) }

// levelOf answers the highest cấp độ of the systems an incident touches.
// A system that cannot be read counts as cấp độ 5: an error must ask for
// more approval, never less.
func levelOf(reg *system.Registry) func(context.Context, []string) int {
	return func(ctx context.Context, ids []string) int {
		level := 0
		for _, id := range ids {
			sys, err := reg.Get(ctx, id)
			if err != nil {
				return 5
			}
			level = max(level, sys.Level)
		}
		return level
	}
}
