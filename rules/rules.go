package rules

import "embed"

// FS holds yara/*.yar and osquery/*.conf, *.json.
//
//go:embed yara osquery
var FS embed.FS
