// Package isolation tests response-action isolation for real: network
// namespaces joined by veth pairs, the real server in one, the real agent
// in another, a third "other" host the isolated agent must no longer
// reach. It needs root, ip and nft; without them it skips, and fails
// when CI=true.
package isolation
