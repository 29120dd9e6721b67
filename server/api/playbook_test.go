package api

import (
	"context"
	"net"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/wire"
	"lachan/playbooks"
	"lachan/server/notify"
	"lachan/server/playbook"
)

// TestPlaybookAndNotificationRoutes: an incident's runs are read within
// the incident's scope, without the alert's fields; the notification
// queue is for administrators, and only a dead message is retried.
func TestPlaybookAndNotificationRoutes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPeer := "https://" + ln.Addr().String() + "/hook"
	ln.Close()
	var q *notify.Queue
	var eng *playbook.Engine
	e := newEnv(t, func(d *Deps) {
		ncfg := notify.DefaultConfig()
		ncfg.MaxAttempts = 1
		ncfg.Channels = []notify.Channel{{Name: "soc", Type: notify.TypeWebhook, URL: deadPeer, SecretFile: "/nonexistent"}}
		q = notify.NewQueue(d.Store, ncfg, logging.Discard(), nil)
		set, errs := playbook.Load(playbooks.FS, ".", "playbooks")
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		eng = playbook.New(playbook.DefaultConfig(), playbook.Deps{Store: d.Store, Incidents: d.Incidents, Set: set, Notify: q, Log: logging.Discard()})
		d.Playbooks, d.Notifications = eng, q
	})
	ctx := context.Background()
	al := event.New(event.DatasetAlert, time.Now())
	for k, v := range map[string]any{"rule.id": "3628b763-39e3-49ff-b3fa-3d43d12e8353", "rule.name": "EICAR", "rule.level": "low",
		"host.id": "agent-1", "lachan.unit": "ward-1", "user.name": "nguyen.van.an", "event.kind": "alert"} {
		al.Set(k, v)
	}
	if _, err := e.st.PutEvents(ctx, []event.Event{al}); err != nil {
		t.Fatal(err)
	}
	inc := e.srv.d.Incidents
	ids, err := inc.Raise(ctx, []event.Event{al})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	own, _ := e.tokens.Issue(ctx, Token{Name: "ward1", Role: RoleResponder, Unit: "ward-1"})
	other, _ := e.tokens.Issue(ctx, Token{Name: "ward2", Role: RoleResponder, Unit: "ward-2"})
	analyst, _ := e.tokens.Issue(ctx, Token{Name: "soc", Role: RoleAnalyst})
	path := wire.PathIncidents + "/" + ids[0] + "/playbooks"
	var page PlaybookRunsPage
	if code := e.get(own, path, &page); code != 200 || len(page.Runs) != 1 || page.Runs[0].Playbook != "eicar-benign" ||
		page.Runs[0].Data.Alert != nil || len(page.Runs[0].Log) != 2 {
		t.Fatalf("own unit: %d %+v", code, page)
	}
	if code := e.get(other, path, nil); code != 404 {
		t.Errorf("another unit's incident: %d", code)
	}
	var msgs NotificationsPage
	if code := e.get(e.admin, PathNotifications, &msgs); code != 200 || len(msgs.Messages) != 1 {
		t.Fatalf("queue: %d %+v", code, msgs)
	}
	if code := e.get(analyst, PathNotifications, nil); code != 403 {
		t.Errorf("analyst reading the queue: %d", code)
	}
	retry := PathNotifications + "/" + msgs.Messages[0].Message.ID + "/retry"
	auth := map[string]string{"Authorization": "Bearer " + e.admin}
	if code := e.post(e.anon, retry, nil, auth, nil); code != 409 {
		t.Errorf("retrying a pending message: %d", code)
	}
	if _, err := q.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if code := e.post(e.anon, retry, nil, auth, nil); code != 200 {
		t.Errorf("retrying a dead message: %d", code)
	}
	if code := e.post(e.anon, retry, nil, map[string]string{"Authorization": "Bearer " + analyst}, nil); code != 403 {
		t.Errorf("analyst retrying: %d", code)
	}
}
