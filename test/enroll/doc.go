// Package enroll tests the one-line enrollment (`lachan-agent enroll`)
// against a real `lachan serve` on loopback: the right fingerprint and
// secret, a wrong fingerprint, a wrong secret, and a server that is down
// when the PC is set up and comes up later.
package enroll
