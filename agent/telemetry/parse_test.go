package telemetry

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
)

func TestParseNetTCP(t *testing.T) {
	in := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21301 1 0000000000000000 100 0 0 10 0
   1: 0F02000A:A2B4 2E1A3AD8:01BB 01 00000000:00000000 02:000AFBB6 00000000  1000        0 88412 2 0000000000000000 20 4 30 10 -1
`)
	got, err := parseNetTCP(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []tcpSocket{
		{Local: netip.MustParseAddrPort("127.0.0.1:3306"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: tcpListen, UID: 0, Inode: 21301},
		{Local: netip.MustParseAddrPort("10.0.2.15:41652"), Remote: netip.MustParseAddrPort("216.58.26.46:443"), State: tcpEstablished, UID: 1000, Inode: 88412},
	}
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the sample is of a little-endian host")
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sockets, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("socket %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestParseNetTCP6(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the sample is of a little-endian host")
	}
	in := []byte("header\n   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1\n" +
		"   1: 0000000000000000FFFF00000100007F:9C40 0000000000000000FFFF00000100007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 99 1\n")
	got, err := parseNetTCP(in)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Local != netip.MustParseAddrPort("[::1]:22") {
		t.Errorf("ipv6 loopback: got %v", got[0].Local)
	}
	if got[1].Remote != netip.MustParseAddrPort("127.0.0.1:80") {
		t.Errorf("mapped ipv4: got %v", got[1].Remote)
	}
}

func TestParseNetTCPErrors(t *testing.T) {
	for _, in := range []string{
		"h\n 0: 0100007F 00000000:0000 0A 0:0 0:0 0 0 0 1\n",
		"h\n 0: 0100007F:0CEA 00000000:0000 ZZ 0:0 0:0 0 0 0 1\n",
		"h\n 0: 01007F:0CEA 00000000:0000 0A 0:0 0:0 0 0 0 1\n",
		"h\n 0: 0100007F:0CEA\n",
	} {
		if _, err := parseNetTCP([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestParseStatus(t *testing.T) {
	st, err := parseStatus([]byte("Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t12\nPPid:\t1\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st != (procStatus{Name: "bash", PPID: 1, UID: 1000, EUID: 0}) {
		t.Errorf("got %+v", st)
	}
	for _, bad := range []string{"", "Uid:\t1\n", "PPid: x\n", "Uid: a b\n"} {
		if _, err := parseStatus([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseStat(t *testing.T) {
	in := []byte("4242 (a (weird) name) S 17 4242 4242 0 -1 4194560 120 0 0 0 0 0 0 0 20 0 1 0 987654 1000 200 18446744073709551615")
	ppid, start, err := parseStatPPID(in)
	if err != nil || ppid != 17 || start != 987654 {
		t.Fatalf("got %d %d %v", ppid, start, err)
	}
	if _, _, err := parseStatPPID([]byte("1 (x) S 0")); err == nil {
		t.Error("short stat: no error")
	}
}

func TestParseCmdline(t *testing.T) {
	for in, want := range map[string]string{
		"sh\x00-c\x00echo aGk= | base64 -d | sh\x00": "sh -c echo aGk= | base64 -d | sh",
		"nginx: worker process":                      "nginx: worker process",
		"":                                           "",
		"a\xff\x00b\x00":                             "a\uFFFD b",
	} {
		if got := parseCmdline([]byte(in)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestSocketInode(t *testing.T) {
	if n, ok := socketInode("socket:[88412]"); !ok || n != 88412 {
		t.Errorf("got %d %v", n, ok)
	}
	for _, s := range []string{"pipe:[1]", "socket:[x]", "socket:[1", "/dev/null"} {
		if _, ok := socketInode(s); ok {
			t.Errorf("%q: taken for a socket", s)
		}
	}
}

func TestLoginUID(t *testing.T) {
	if n, ok := parseLoginUID([]byte("1000")); !ok || n != 1000 {
		t.Errorf("got %d %v", n, ok)
	}
	if _, ok := parseLoginUID([]byte("4294967295")); ok {
		t.Error("unset loginuid taken as set")
	}
}

// procMsg builds a connector datagram holding one process event.
func procMsg(what uint32, nanos uint64, data ...uint32) []byte {
	dlen := procEventHdrLen + 4*len(data)
	total := nlmsgHdrLen + cnMsgLen + dlen
	b := make([]byte, total)
	binary.NativeEndian.PutUint32(b[0:], uint32(total))
	binary.NativeEndian.PutUint16(b[4:], nlmsgDone)
	c := b[nlmsgHdrLen:]
	binary.NativeEndian.PutUint32(c[0:], cnIdxProc)
	binary.NativeEndian.PutUint32(c[4:], cnValProc)
	binary.NativeEndian.PutUint16(c[16:], uint16(dlen))
	d := c[cnMsgLen:]
	binary.NativeEndian.PutUint32(d[0:], what)
	binary.NativeEndian.PutUint64(d[8:], nanos)
	for i, v := range data {
		binary.NativeEndian.PutUint32(d[procEventHdrLen+4*i:], v)
	}
	return b
}

func TestParseNetlink(t *testing.T) {
	var b []byte
	b = append(b, procMsg(procEventExec, 77, 100, 100)...)
	b = append(b, procMsg(procEventFork, 78, 1, 1, 200, 200)...)
	b = append(b, procMsg(procEventExit, 79, 200, 200, 256, 17, 1, 1)...)
	b = append(b, procMsg(0x200, 80, 1, 1, 0, 0, 0, 0)...) // comm: ignored
	got, err := parseNetlink(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []procEvent{
		{What: procEventExec, Nanos: 77, PID: 100, TGID: 100},
		{What: procEventFork, Nanos: 78, ParentPID: 1, ParentTGID: 1, PID: 200, TGID: 200},
		{What: procEventExit, Nanos: 79, PID: 200, TGID: 200, ExitCode: 256, ParentPID: 1, ParentTGID: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// The listen request is itself a well-formed connector message.
	if evs, err := parseNetlink(listenRequest(procCnMcastListen, 1, 0)); err != nil || len(evs) != 0 {
		t.Errorf("listen request: %v %v", evs, err)
	}
	for _, bad := range [][]byte{
		procMsg(procEventExec, 1, 5)[:nlmsgHdrLen+cnMsgLen+procEventHdrLen+4],
		{1, 2, 3},
		procMsg(procEventFork, 1, 1, 2),
	} {
		if _, err := parseNetlink(bad); err == nil {
			t.Errorf("%x: no error", bad)
		}
	}
}

func TestFilterSupported(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"6.6.0", true},
		{"6.18.1-cloud-amd64", true},
		{"6.5.13-1-pve", false},
		{"5.15.0-105-generic", false},
		{"7.0", true},
		{"4.19.0-26-amd64", false},
		{"", false},
		{"garbage", false},
	} {
		if got := filterSupported(tc.release); got != tc.want {
			t.Errorf("filterSupported(%q) = %v, want %v", tc.release, got, tc.want)
		}
	}
}

func TestListenRequestFilter(t *testing.T) {
	plain := listenRequest(procCnMcastListen, 7, 0)
	filtered := listenRequest(procCnMcastListen, 7, procEventFork|procEventExec)
	if len(plain) != nlmsgHdrLen+cnMsgLen+4 || len(filtered) != nlmsgHdrLen+cnMsgLen+8 {
		t.Fatalf("lengths %d and %d", len(plain), len(filtered))
	}
	d := filtered[nlmsgHdrLen:]
	if got := binary.NativeEndian.Uint16(d[16:]); got != 8 {
		t.Errorf("connector data length %d, want 8 (struct proc_input)", got)
	}
	if op, ev := binary.NativeEndian.Uint32(d[cnMsgLen:]), binary.NativeEndian.Uint32(d[cnMsgLen+4:]); op != procCnMcastListen || ev != procEventFork|procEventExec {
		t.Errorf("proc_input = {%d, %#x}", op, ev)
	}
	if got := binary.NativeEndian.Uint32(filtered[0:]); int(got) != len(filtered) {
		t.Errorf("netlink length %d of %d bytes", got, len(filtered))
	}
}

// diagMsg builds one inet_diag_msg answer as the kernel writes it.
func diagMsg(family, state uint8, local, remote netip.AddrPort, uid, inode uint32) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagMsgLen)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], sockDiagByFamily)
	m := b[nlmsgHdrLen:]
	m[0], m[1] = family, state
	id := m[4:52]
	binary.BigEndian.PutUint16(id[0:], local.Port())
	binary.BigEndian.PutUint16(id[2:], remote.Port())
	if family == 2 {
		a, r := local.Addr().As4(), remote.Addr().As4()
		copy(id[4:], a[:])
		copy(id[20:], r[:])
	} else {
		a, r := local.Addr().As16(), remote.Addr().As16()
		copy(id[4:], a[:])
		copy(id[20:], r[:])
	}
	binary.NativeEndian.PutUint32(m[64:], uid)
	binary.NativeEndian.PutUint32(m[68:], inode)
	return b
}

func nlDone() []byte {
	b := make([]byte, nlmsgHdrLen+4)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], nlmsgDone)
	return b
}

func TestParseDiag(t *testing.T) {
	v4 := diagMsg(2, tcpSynSent, netip.MustParseAddrPort("10.0.2.15:41652"), netip.MustParseAddrPort("216.58.26.46:443"), 1000, 88412)
	v6 := diagMsg(10, tcpListen, netip.MustParseAddrPort("[::1]:22"), netip.MustParseAddrPort("[::]:0"), 0, 1234)
	mapped := diagMsg(10, tcpEstablished, netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000"), netip.MustParseAddrPort("[::ffff:127.0.0.1]:80"), 0, 99)
	tests := []struct {
		name     string
		in       []byte
		want     []tcpSocket
		wantDone bool
		wantErr  string
	}{
		{"one datagram, three answers and the end", join(v4, v6, mapped, nlDone()), []tcpSocket{
			{Local: netip.MustParseAddrPort("10.0.2.15:41652"), Remote: netip.MustParseAddrPort("216.58.26.46:443"), State: tcpSynSent, UID: 1000, Inode: 88412},
			{Local: netip.MustParseAddrPort("[::1]:22"), Remote: netip.MustParseAddrPort("[::]:0"), State: tcpListen, Inode: 1234},
			{Local: netip.MustParseAddrPort("127.0.0.1:40000"), Remote: netip.MustParseAddrPort("127.0.0.1:80"), State: tcpEstablished, Inode: 99},
		}, true, ""},
		{"more to come", v4, []tcpSocket{
			{Local: netip.MustParseAddrPort("10.0.2.15:41652"), Remote: netip.MustParseAddrPort("216.58.26.46:443"), State: tcpSynSent, UID: 1000, Inode: 88412},
		}, false, ""},
		{"short answer", v4[:nlmsgHdrLen+40], nil, false, "netlink length"},
		{"unknown family", diagMsg(7, 1, netip.MustParseAddrPort("1.2.3.4:5"), netip.MustParseAddrPort("1.2.3.4:5"), 0, 1), nil, false, "address family 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, done, err := parseDiag(tc.in, false, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || done != tc.wantDone {
				t.Fatalf("done %v err %v", done, err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v", got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("socket %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
	// A netlink error ends the dump and says so.
	e := nlDone()
	binary.NativeEndian.PutUint16(e[4:], nlmsgError)
	binary.NativeEndian.PutUint32(e[nlmsgHdrLen:], uint32(0xfffffffe)) // -ENOENT
	if _, done, err := parseDiag(e, true, nil); !done || err == nil || !strings.Contains(err.Error(), "netlink error 2") {
		t.Errorf("netlink error: done %v err %v", done, err)
	}
}

func join(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
