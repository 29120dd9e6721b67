// Package playbook runs response playbooks: data files (YAML) that say, for
// incidents matching a trigger, which steps to take — enrich, contain (an
// agent action, behind an approval gate), notify (a channel and a
// template), note, and resolve — what to do on each outcome of a step, and
// how to roll a containment back.
//
// Load parses a directory of playbooks strictly: an unknown key, a bad
// step kind or action kind, a template that does not parse or does not
// execute against a sample incident are errors with file:line:col. Every
// playbook file <name>.yml has test cases in <name>.tests.yml (an incident
// in, the steps expected out); RunTests plays them through the same state
// machine the server runs (run.go), with the outcomes each case names.
//
// The Engine runs playbooks in the server. It hears of incidents raised or
// changed and also sweeps the store at an interval, so that nothing is
// missed across a restart. A run's state is a store entity (kind
// KindRun), written before each step is carried out with the key the step
// is carried out under; a restart resumes the run from it, and the effects
// are idempotent by that key (an action request names it, a notification's
// queue ID derives from it, resolving a resolved incident is a no-op), so a
// step is never done twice. Each step's outcome goes into the incident's
// history, and through it into the audit trail.
//
// Response actions are not this package's: the engine requests them through
// the Actions interface and learns their outcome from it. Approval of an
// action (how many different people, of which role) is decided here and
// enforced by whoever implements Actions. With no Actions, steps that need
// one end as "unavailable" and the run goes on.
package playbook
