// Package enroll is the agent's side of the one-line enrollment
// (`lachan-agent enroll --server HOST:PORT --ca-sha256 FINGERPRINT
// --secret S`): it fetches the server's CA and takes it only when its
// SHA-256 is the fingerprint the operator copied from the server
// (`lachan ca`), writes the agent's configuration, and waits out a server
// that cannot be reached yet.
//
// The CA is fetched over a TLS connection that cannot be verified yet (the
// agent has nothing to trust); nothing secret travels on it, and what it
// brings is checked by its hash alone. The enrollment secret is then sent
// only over a connection verified against that CA, as every later call is.
package enroll
