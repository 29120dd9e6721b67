package detections

import "embed"

// LogSourcesFile is the log-source mapping's path inside FS.
const LogSourcesFile = "logsources.yml"

// FS holds the rule files, their test cases and the log-source mapping,
// with paths relative to this directory.
//
//go:embed logsources.yml endpoint network correlation campaigns
var FS embed.FS
