// Package playbooktest checks an implementation of playbook.Actions
// against what the playbook engine relies on, so that the response-action
// service can prove it before it is wired to the engine.
package playbooktest

import (
	"context"
	"testing"

	"lachan/server/playbook"
)

// Actions checks a: a request repeated under the same key is the same
// action; another key is another action; an action that needs approval
// waits (pending) until approved; a cancelled action reads as cancelled;
// an unknown ID is an error. req must need at least one approver and name
// an agent a can act on; its Key is varied by the check.
func Actions(t *testing.T, a playbook.Actions, req playbook.ActionRequest) {
	t.Helper()
	if req.Approvers < 1 {
		t.Fatal("playbooktest.Actions needs a request with approvers")
	}
	ctx := context.Background()
	first, err := a.RequestAction(ctx, req)
	if err != nil || first == "" {
		t.Fatalf("request: %q, %v", first, err)
	}
	again, err := a.RequestAction(ctx, req)
	if err != nil || again != first {
		t.Errorf("the same key asked again gave action %q (%v), want %q: a restarted run would act twice", again, err, first)
	}
	other := req
	other.Key += "/other"
	second, err := a.RequestAction(ctx, other)
	if err != nil || second == first {
		t.Errorf("another key gave action %q (%v), want a new one", second, err)
	}
	st, err := a.ActionStatus(ctx, first)
	if err != nil || st.State != playbook.ActionPending {
		t.Errorf("status before any approval: %+v, %v; want %s", st, err, playbook.ActionPending)
	}
	if err := a.CancelAction(ctx, first, "playbook", "test"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if st, err := a.ActionStatus(ctx, first); err != nil || st.State != playbook.ActionCancelled {
		t.Errorf("status after cancel: %+v, %v; want %s", st, err, playbook.ActionCancelled)
	}
	if _, err := a.ActionStatus(ctx, "no-such-action"); err == nil {
		t.Error("the status of an unknown action is not an error")
	}
}
