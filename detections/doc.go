// Package detections holds Lá Chắn's shipped detection rules (Sigma) and the
// log-source mapping they are loaded with, embedded so that the server has
// working defaults with no files installed.
//
// Every rule file <name>.yml has a sibling <name>.tests.yml: a list of
// {event: {flat event fields}, match: true|false} cases, run by this
// package's tests.
package detections
