// Package policy holds the in-process test of the telemetry policy: the
// server's API and an agent daemon in one test binary, the policy going
// out at check-in and the agent's report of it coming back.
package policy
