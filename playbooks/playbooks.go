package playbooks

import "embed"

// FS holds the playbooks, their test cases and templates.yml, with paths
// relative to this directory.
//
//go:embed *.yml
var FS embed.FS
