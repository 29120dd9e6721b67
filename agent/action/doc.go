// Package action runs the server's response actions on the agent's PC:
// isolate and release the network, kill a process, quarantine, restore
// and collect a file, block an address, disable a local account, run an
// osquery query.
//
// Every action is verified before anything else (internal/action: the
// signature against the key pinned at enrollment, the target agent, the
// expiry), then checked against the ledger of IDs and nonces seen, kept
// durably in the state directory, so that a replay is refused across
// restarts. The ledger records "started" (synced to disk) before the
// action runs: an agent that dies midway reports the action interrupted
// at its next start and never runs it again — at most once. Results, with
// their evidence, wait in an outbox on disk until the server acknowledges
// them.
//
// Isolation is kept on disk too and applied again at every start, so that
// it survives an agent or PC restart until released. Platform code lives
// in _linux.go (nftables, /proc, usermod) and _windows.go (netsh
// advfirewall, the process API, net user) files.
package action
