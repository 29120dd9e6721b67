// Package storetest is the conformance suite every store.Store engine must
// pass. An engine's tests call Run with a function that opens a fresh, empty
// store, and RunReopen with one that opens the store kept at a directory
// (or under a name), so that the same behaviour is checked against the
// embedded engine and, when an address is given, Elasticsearch.
//
// The suite fixes what the interface leaves to prose: idempotent writes by
// ID (the first copy wins, within a batch and across batches), an invalid
// event failing its whole batch, search order (timestamp, then ID), strict
// paging (Next is nil exactly when no event is left), unit scoping, and the
// entity version rules (first version 1, each write adds one).
package storetest
