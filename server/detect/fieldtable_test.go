package detect

import (
	"fmt"
	"testing"
)

// TestFieldTable finds every name it holds and none it does not, with
// names that share their length and the bytes nameHash reads.
func TestFieldTable(t *testing.T) {
	names := []string{"Image", "ParentImage", "CommandLine", "User", "a", "b", "x.y", "ProcessGuid", "ParentUser"}
	for i := 0; i < 40; i++ {
		names = append(names, fmt.Sprintf("f%02dx", i)) // equal lengths, ends and middles
	}
	tab := newFieldTable(names)
	for i, n := range names {
		if got := tab.find(n); got != int32(i) {
			t.Errorf("find(%q) = %d, want %d", n, got, i)
		}
	}
	for _, n := range []string{"", "image", "ParentImagE", "f40x", "f0x", "LogonGuid", "Imag", "c"} {
		if got := tab.find(n); got != -1 {
			t.Errorf("find(%q) = %d, want -1", n, got)
		}
	}
	if empty := newFieldTable(nil); empty.find("a") != -1 {
		t.Error("an empty table found a name")
	}
}
