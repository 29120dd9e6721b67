// Package rules embeds the rule files the agent ships with — YARA rules
// under yara/ and osquery packs under osquery/ — so that a fresh agent
// detects something before any policy arrives. The files are data: the
// tests in this package compile and parse every one of them.
package rules
