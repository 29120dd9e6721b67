package rules

import (
	"crypto/sha256"
	"encoding/hex"
)

// SysmonConfig is the path in FS of the recommended Sysmon configuration.
const SysmonConfig = "sysmon/lachan-sysmon.xml"

// SysmonConfigHash is the SHA-256 (lower-case hex) of the recommended
// Sysmon configuration, as the agent reports the hash of the file Sysmon
// loaded: a PC reporting another runs another configuration.
func SysmonConfigHash() string {
	b, err := FS.ReadFile(SysmonConfig)
	if err != nil {
		return "" // embedded at build time: cannot happen
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
