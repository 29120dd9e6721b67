// Package actions tests response actions end to end, with the real server
// and agent: isolation in network namespaces joined by veth pairs (the
// server in one, the agent in another, a third "other" host the isolated
// agent must no longer reach), and a quarantine approved by a second
// person through the CLI and restored. The namespaces test needs root, ip
// and nft; without them it skips, and fails when CI=true.
package actions
