package telemetry

import (
	"testing"

	"golang.org/x/net/bpf"
)

// TestProcFilter runs the connector socket's filter in x/net/bpf's
// interpreter over datagrams as the kernel writes them.
func TestProcFilter(t *testing.T) {
	prog := procFilter()
	raw := make([]bpf.RawInstruction, len(prog))
	for i, in := range prog {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("the filter does not disassemble: %v", insns)
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		keep bool
	}{
		{"exec", procMsg(procEventExec, 1, 100, 100), true},
		{"exec by a thread", procMsg(procEventExec, 1, 101, 100), true},
		{"fork of a process", procMsg(procEventFork, 1, 1, 1, 200, 200), true},
		{"a thread's creation", procMsg(procEventFork, 1, 200, 200, 201, 200), false},
		{"exit", procMsg(procEventExit, 1, 200, 200, 0, 17, 1, 1), false},
		{"comm change", procMsg(0x200, 1, 1, 1, 0, 0, 0, 0), false},
		{"the listen request's answer", listenRequest(procCnMcastListen, 1, 0), false},
		{"truncated fork", procMsg(procEventFork, 1, 1, 1)[:offChildPID], false},
	} {
		n, err := vm.Run(tc.msg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := n > 0; got != tc.keep {
			t.Errorf("%s: kept %v (%d bytes), want %v", tc.name, got, n, tc.keep)
		}
		if tc.keep && n < len(tc.msg) {
			t.Errorf("%s: cut to %d of %d bytes", tc.name, n, len(tc.msg))
		}
	}
}
