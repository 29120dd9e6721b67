// Package forward is layer 4 of the protection model: the connection to
// the national monitoring system and to upper tiers.
//
// Going up, a Forwarder decides which incidents leave (by severity) and
// writes one Outbox entry per incident revision: a STIX 2.1 bundle (the
// reporting unit's identity, the incident, an indicator for its rule, a
// sighting, observed-data for the evidence) built with every personal
// value pseudonymised by package mask. The entry's ID is the incident and
// its revision, so that one write records the decision and a repeated
// decision writes nothing. The Outbox delivers entries through an Adapter
// in order per incident, retries with capped exponential back-off and
// jitter, keeps entries across restarts, and writes an audit record of
// every attempt. The default adapter, Client, speaks TAXII 2.1 over HTTPS
// (client certificate or token) and signs each request body with a
// detached JWS (RFC 7515, unencoded payload per RFC 7797, EdDSA) carried
// in the X-Lachan-Signature header.
//
// Coming down, a Receiver is the TAXII 2.1 server of an upper tier: it
// authenticates registered senders, verifies their signatures, validates
// every object before writing anything, and files reported incidents into
// the sender's unit; it also publishes indicators, signed, which a lower
// tier's Poller fetches into its indicator set.
//
// docs/national.md describes the protocol and the reasoning.
package forward
