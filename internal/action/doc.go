// Package action is the response action as it travels from server to
// agent: what to do (Kind and Args), to which agent, until when, signed
// by the server's action key. Both sides import it: the server signs with
// Sign, the agent checks with Verify before anything else, and the result
// the agent sends back is a Result.
//
// The signature covers the payload's exact bytes, so a receiver never
// re-encodes what it verifies; the payload holds the target agent, an
// expiry and a nonce, so that a signed action cannot be sent to another
// agent, kept for later, or played twice (the agent remembers the IDs and
// nonces it has seen until they expire).
package action
