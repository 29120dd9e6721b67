// Package notify sends people and systems the notifications playbooks ask
// for: email over SMTP, always switched to TLS with STARTTLS before
// anything is sent (a mail server on a loopback address may be allowed
// without, for tests and local relays), and a JSON webhook over HTTPS
// whose requests are signed with HMAC-SHA256 over a timestamp and the
// body (Sign and Verify; docs/decisions.md, "Playbooks and
// notifications", shows a receiver checking one).
//
// Messages go through a durable queue kept in the store (one entity per
// message, kind KindMessage): Enqueue is idempotent by the message's ID,
// a sender claims a message with a lease before it tries it, a failure is
// tried again after a backoff that doubles up to Config.MaxBackoff, and a
// message that failed Config.MaxAttempts times, or was refused for good
// (a 4xx answer, a mail server without STARTTLS), is set aside as dead
// with its last error. A message is marked sent once the peer has
// acknowledged it (SMTP's answer to DATA, a 2xx answer); a crash between
// the two sends it again, which is why each carries its ID (Message-ID,
// X-Lachan-Delivery) for the receiver to drop a repeat.
package notify
