//go:build cgo && (!linux || musl)

package yara

// trimHeap does nothing where the C library has no malloc_trim.
func trimHeap() {}

// limitArenas does nothing where the C library has no arenas to limit.
func limitArenas() {}
