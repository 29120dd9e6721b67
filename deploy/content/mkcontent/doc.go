// Command mkcontent builds the default content pack shipped in the server's
// Debian package (`make content`), offline, from third-party rule sets read
// by path (../shared/data, never copied into the repository): SigmaHQ's
// rules with the Detection Rule License and the commit they came from; the
// YARA rules of signature-base (DRL 1.1) and Yara-Rules (GPL-2.0) with each
// licence, leaving out the files the yara CLI rejects, index files of
// includes, the sets' deprecated rules and any file under a licence that
// forbids commercial use; and osquery packs (the project's own unless
// -osquery names a directory of others). Every file left out is named with
// its reason in the manifest. The pack is signed with the release key,
// made on first use in a directory outside the repository; its public key
// is written beside the pack for the package to install as trusted.
package main
