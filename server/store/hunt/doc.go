// Package hunt parses the hunting query language analysts type into a
// store.Expr, once, with errors that name the column they are about.
//
//	host.name:pc-01 and process.name:powershell.exe and not user.name:admin*
//
// # Syntax
//
//   - field:value — the field equals the value (as event.Event.String shows
//     it; a list field matches when any element does). Values are exact and
//     case-sensitive.
//   - field:"a b" — a quoted value: spaces and the characters * ? ( ) : keep
//     their plain meaning; inside quotes only \" and \\ are escapes.
//   - field:admin* , field:*.exe , field:c?md* — wildcards: * is any run of
//     characters, ? one character, anywhere in an unquoted value.
//   - field:* — the field exists.
//   - field:(a or b or c) — any of the values.
//   - field >= 1000, field > 2026-11-01, field < x, field <= x (also
//     field:>=1000) and field:[1000 TO 2000] (inclusive), {1000 TO 2000}
//     (exclusive; the brackets mix), with * for an open end. A bound that
//     reads as a time (RFC 3339, or a date taken as UTC) compares as a time,
//     one that reads as a number as a number, anything else as a string.
//   - source.ip:10.0.0.0/8 — on address fields (names ending in ip, .ip or
//     _ip) a value with a / is an address prefix (CIDR).
//   - a bare word or "quoted phrase" without a field searches the text
//     fields (Config.TextFields) for it, case-insensitively, anywhere in the
//     value; wildcards work there too.
//   - and, or, not (any case) with parentheses; not binds tightest, then
//     and, then or. Two clauses side by side are joined by and.
//
// In an unquoted value a backslash before a space or one of \ * ? ( ) " : <
// > [ ] { } makes that character literal; any other backslash is itself
// (so Windows paths need no doubling except before * and ?: C:\Windows\\*).
// To search for the words and, or, not or to, quote them.
package hunt
