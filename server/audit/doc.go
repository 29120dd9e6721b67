// Package audit keeps the tamper-evident audit trail: who did what to
// which object, from where, and whether it worked.
//
// Records form one hash chain: each carries a sequence number and the
// SHA-256 of the record before it, and its own hash covers every field
// and that previous hash, so that changing, removing or reordering a
// record breaks the chain at that point. Every record and a head entity
// (the last sequence number and hash) live in the store, which several
// server replicas may share: a record is created under its sequence
// number only if that number is free, and the head moves with a
// conditional put, so concurrent writers never fork the chain or leave a
// gap. A writer that stopped between the two leaves a record past the
// head; the next writer, or Open, moves the head over it.
//
// A chain alone proves nothing against someone who can rewrite the whole
// store: checkpoints, appended at an interval and when the server stops,
// are records whose hash is signed with the server's Ed25519 audit key.
// Verify checks a stream of exported records, checkpoints included.
package audit
