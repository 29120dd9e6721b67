package winlog

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// TestBoxedLayout guards the hand-built interface values of the brief
// reader: a value boxed from a slab must be indistinguishable from the
// conversion the compiler makes (equality, type switch, reflection,
// formatting), and must survive collections while only the value refers to
// its slab. A Go release that changes how an any is laid out fails here.
func TestBoxedLayout(t *testing.T) {
	strs := []string{"", "a", "Microsoft-Windows-Sysmon/Operational", strings.Repeat("x", 5000), "C:\\Windows\\System32\\cmd.exe"}
	ints := []int64{256, 1 << 20, -1, -1 << 62, 1<<63 - 1}
	var kept []any
	var want []any
	for i := 0; i < 2000; i++ {
		slab := make([]string, 1)
		slab[0] = fmt.Sprintf("%s-%d", strs[i%len(strs)], i)
		kept = append(kept, stringValue(&slab[0]))
		want = append(want, any(fmt.Sprintf("%s-%d", strs[i%len(strs)], i)))
		islab := make([]int64, 1)
		islab[0] = ints[i%len(ints)] + int64(i)
		kept = append(kept, boxed(int64Type, unsafe.Pointer(&islab[0])))
		want = append(want, any(ints[i%len(ints)]+int64(i)))
	}
	runtime.GC()
	runtime.GC()
	for i, v := range kept {
		w := want[i]
		if v != w || !reflect.DeepEqual(v, w) || reflect.TypeOf(v) != reflect.TypeOf(w) || fmt.Sprint(v) != fmt.Sprint(w) {
			t.Fatalf("value %d: boxed %#v (%T), converted %#v (%T)", i, v, v, w, w)
		}
		switch x := v.(type) {
		case string:
			if x != w.(string) {
				t.Fatalf("value %d: string %q, want %q", i, x, w)
			}
		case int64:
			if x != w.(int64) {
				t.Fatalf("value %d: int64 %d, want %d", i, x, w)
			}
		default:
			t.Fatalf("value %d: type %T", i, v)
		}
	}
}
