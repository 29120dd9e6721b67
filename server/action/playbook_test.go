package action

import (
	"context"
	"testing"

	"lachan/server/playbook"
	"lachan/server/playbook/playbooktest"
)

// TestServiceKeepsThePlaybookContract: the real service, seen through
// ForPlaybooks, does what the playbook engine relies on.
func TestServiceKeepsThePlaybookContract(t *testing.T) {
	f := newFixture(t)
	playbooktest.Actions(t, f.svc.ForPlaybooks(), playbook.ActionRequest{Key: "run-1/0/isolate", AgentID: f.pc1.ID,
		Kind: "isolate", Approvers: 1, ApproverRole: "analyst", RequestedBy: "playbook:ransomware-isolate"})
}

// TestPlaybookRequestStates: an approval reaches the engine as approved,
// with who approved.
func TestPlaybookRequestStates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pa := f.svc.ForPlaybooks()
	id, err := pa.RequestAction(ctx, playbook.ActionRequest{Key: "run-2/0/block", AgentID: f.pc1.ID, Kind: "block-address",
		Args: map[string]string{"address": "203.0.113.7"}, Approvers: 1, RequestedBy: "playbook:password-guessing"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, id, "an.nguyen"); err != nil {
		t.Fatal(err)
	}
	st, err := pa.ActionStatus(ctx, id)
	if err != nil || st.State != playbook.ActionApproved || len(st.By) != 1 || st.By[0] != "an.nguyen" {
		t.Fatalf("after approval: %+v, %v", st, err)
	}
}
