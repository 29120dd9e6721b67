// Package action keeps the server's side of response actions: an analyst,
// a responder or a playbook requests one against one agent; it waits for
// as many distinct approvers as it needs (never the requester, and two
// people for isolating a PC of an information system at cấp độ 3 or
// above); once approved it is signed with the server's action key and
// handed to the agent at its next check-in, exactly once; the agent's
// result comes back and is kept with it. Every request, approval, cancel
// and result goes to the audit trail.
//
// Actions are entities in the store (kind "action"), so that every
// replica sees them; a collected file is kept apart (kind "action-file"),
// and each agent has a small queue of its undelivered actions
// (kind "action-queue") that its check-ins read.
//
// Playbooks request actions through Service.Request with By set to
// "playbook:<id>" and follow them with Get and List; the approval gate
// applies to them as to people.
package action
