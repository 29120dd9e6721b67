//go:build cgo && linux && !musl

package yara

/*
#include <malloc.h>
*/
import "C"

import "sync"

// trimHeap hands the C heap's free pages back to the system: compiling a
// large rule set, or a long scan, frees far more than it keeps, and glibc
// would otherwise hold on to it for the life of the process.
func trimHeap() { C.malloc_trim(0) }

var arenasOnce sync.Once

// limitArenas keeps glibc to one malloc arena. glibc gives each thread
// that allocates its own arena, Go makes cgo calls from whichever thread
// is free, and libyara allocates on every scan, so arenas multiply, each
// keeping what was freed in it: measured with signature-base loaded, this
// is the difference between about 75 MB peak and over 100. It is
// process-wide, and the agent is the only process it touches.
func limitArenas() {
	arenasOnce.Do(func() { C.mallopt(C.M_ARENA_MAX, 1) })
}
