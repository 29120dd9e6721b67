package rules

import "embed"

// FS holds yara/*.yar, the osquery packs osquery/*.conf and *.json, and
// osquery/schema.txt, the part of osquery's schema the packs use.
// sysmon/ holds the recommended Sysmon configuration (SysmonConfig).
//
//go:embed yara osquery sysmon
var FS embed.FS
