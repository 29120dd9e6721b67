package rules

import "embed"

// FS holds yara/*.yar, the osquery packs osquery/*.conf and *.json, and
// osquery/schema.txt, the part of osquery's schema the packs use.
//
//go:embed yara osquery
var FS embed.FS
