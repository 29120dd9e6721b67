package telemetry

import (
	"net/netip"
	"testing"
)

func FuzzParseNetlink(f *testing.F) {
	f.Add(procMsg(procEventExec, 77, 100, 100))
	f.Add(procMsg(procEventFork, 78, 1, 1, 200, 200))
	f.Add(procMsg(procEventExit, 79, 200, 200, 256, 17, 1, 1))
	f.Add(listenRequest(procCnMcastListen, 1, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, _ := parseNetlink(b)
		if len(evs) > len(b)/(nlmsgHdrLen+cnMsgLen+procEventHdrLen) {
			t.Fatalf("%d events from %d bytes", len(evs), len(b))
		}
	})
}

func FuzzParseNetTCP(f *testing.F) {
	f.Add([]byte("h\n   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21301 1\n"))
	f.Add([]byte("h\n   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 1234 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		socks, err := parseNetTCP(b)
		for _, s := range socks {
			if !s.Local.IsValid() || !s.Remote.IsValid() {
				t.Fatalf("invalid address accepted: %+v (err %v)", s, err)
			}
		}
	})
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte("Name:\tbash\nPPid:\t1\nUid:\t1000\t0\t0\t0\n"))
	f.Add([]byte("4242 (a (weird) name) S 17 4242 4242 0 -1 4194560 120 0 0 0 0 0 0 0 20 0 1 0 987654 1000"))
	f.Add([]byte("sh\x00-c\x00id\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStatus(b)
		_, _, _ = parseStatPPID(b)
		_, _ = parseLoginUID(b)
		_, _ = socketInode(string(b))
		if s := parseCmdline(b); len(s) > 3*len(b) {
			t.Fatalf("command line of %d bytes from %d", len(s), len(b))
		}
	})
}

func FuzzParseDiag(f *testing.F) {
	f.Add(diagMsg(2, tcpSynSent, netip.MustParseAddrPort("10.0.2.15:41652"), netip.MustParseAddrPort("216.58.26.46:443"), 1000, 88412))
	f.Add(join(diagMsg(10, tcpListen, netip.MustParseAddrPort("[::1]:22"), netip.MustParseAddrPort("[::]:0"), 0, 1), nlDone()))
	f.Add(diagRequest(2, ipprotoTCP, 1<<tcpListen, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		socks, _, err := parseDiag(b, false, nil)
		if len(socks) > len(b)/(nlmsgHdrLen+inetDiagMsgLen) {
			t.Fatalf("%d sockets from %d bytes", len(socks), len(b))
		}
		for _, s := range socks {
			if !s.Local.IsValid() || !s.Remote.IsValid() {
				t.Fatalf("invalid address accepted: %+v (err %v)", s, err)
			}
		}
	})
}
