// Package mask pseudonymises personal data before it leaves the server.
//
// A Policy (YAML, a default embedded) names what is personal: fields whose
// whole value is replaced (user.name, user.email, …), patterns found inside
// any string (e-mail addresses, Vietnamese phone numbers, CCCD numbers,
// person names after a known family name) and internal networks whose
// addresses are hidden. Each value becomes a keyed pseudonym: the type, a
// dash and the first 16 hex digits of HMAC-SHA256(key, type ":" normalised
// value), e.g. "user-3f9a0c1e5b7d2a46". The same value always maps to the
// same token under one key, so the receiver can still count and correlate,
// and without the key a token cannot be reversed or guessed by trying every
// phone number.
//
// Every token handed out is remembered in a re-identification Table kept on
// this server only (store entities of kind "mask.token"), so that the city
// can name the person behind a token when an incident calls for it (lachan
// forward reidentify, administrators only). A Session collects the tokens
// of one outgoing object and Commit writes them before the object leaves:
// nothing is sent whose token could not be re-identified later.
package mask
