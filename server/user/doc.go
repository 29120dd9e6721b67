// Package user keeps the accounts of the people who operate Lá Chắn: a
// name, a role and the units it covers, a password hashed with argon2id,
// an optional RFC 6238 second factor, and the sessions a login opens.
//
// Accounts, sessions and nothing else are store entities (kinds "user"
// and "session"); a session's secret is kept only as its SHA-256 hash.
// Roles are opaque here: what a role may do is the API's table.
package user
