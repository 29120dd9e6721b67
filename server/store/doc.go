// Package store is the one interface through which everything persistent in
// the server goes: events (including alerts), and entities (agents, units,
// incidents, rule state) with optimistic concurrency. Engines live in
// sub-packages: embedded (the default, one data directory) and, later,
// elastic. storetest holds the conformance suite every engine must pass.
package store
