// Package playbooks holds Lá Chắn's shipped response playbooks and the
// notification templates they use, embedded so that the server has
// working defaults with no files installed (package server/playbook reads
// them; docs/decisions.md, "Playbooks and notifications", describes the
// format).
//
// Every playbook <name>.yml has a sibling <name>.tests.yml: a list of
// {name, incident, outcomes, steps} cases that `lachan playbooks test
// playbooks` runs, and so does this package's test.
package playbooks
