// Package content is the signed content pack: Sigma rules, YARA rules and
// osquery packs in one file, with a manifest naming the pack, its version,
// when it was made and, for each part, where the rules came from, the
// licence and attribution they carry, how many files it holds and their
// hash. The payload is signed with an Ed25519 content key the city's SOC
// keeps; a server takes a pack only from a key listed in its
// content.trusted_keys.
//
// A pack is installed into a directory (the server's <data_dir>/content)
// as one file per version, written beside its final name and renamed into
// place, with a small state file per pack naming the active version and
// the one before it, so that an install is whole or absent and a rollback
// is one rename. The server reads the active packs at start, verifying
// each again, and loads their rules beside the built-in ones.
package content
