package telemetry

import (
	"net/netip"
	"testing"
	"time"

	"lachan/internal/event"
)

// TestEventIDs: an exec's ID leads with the time it was seen and hashes
// what makes it one exec; a connection's is all hash, so that the poller
// seeing the same socket again makes the same event.
func TestEventIDs(t *testing.T) {
	at := time.Date(2026, 12, 5, 8, 30, 0, 123_456_789, time.UTC)
	x := execInfo{At: at, Nanos: 987_654_321, PID: 4242, UID: -1, EUID: -1, PPID: -1, Exe: "/usr/bin/curl"}
	ev := x.event("agent-1", "boot-1")
	if want := event.DeriveTimedID(at, "linux-exec", "agent-1", "boot-1", "987654321", "4242"); ev.ID != want {
		t.Errorf("exec ID %s, want %s", ev.ID, want)
	}
	if again := x.event("agent-1", "boot-1"); again.ID != ev.ID {
		t.Errorf("the same exec: %s, then %s", ev.ID, again.ID)
	}
	later := x
	later.At, later.Nanos, later.PID = at.Add(time.Second), x.Nanos+1e9, 4243
	if id := later.event("agent-1", "boot-1").ID; id <= ev.ID {
		t.Errorf("a later exec's ID %s sorts before %s", id, ev.ID)
	}
	if err := ev.Validate(); err != nil {
		t.Errorf("exec event: %v", err)
	}

	sock := tcpSocket{Local: netip.MustParseAddrPort("10.0.0.5:50000"), Remote: netip.MustParseAddrPort("10.0.0.9:443"), Inode: 77}
	c := connInfo{At: at, Action: "connect", Sock: sock}
	seenAgain := c
	seenAgain.At = at.Add(time.Minute)
	first, second := c.event("agent-1", "boot-1"), seenAgain.event("agent-1", "boot-1")
	if first.ID != second.ID || first.ID != event.DeriveID("linux-tcp", "agent-1", "boot-1", "77", "connect") {
		t.Errorf("connection IDs %s and %s, want both %s", first.ID, second.ID, event.DeriveID("linux-tcp", "agent-1", "boot-1", "77", "connect"))
	}
}
