package eventlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
)

func sysmonXML(id, record int) []byte {
	return []byte(fmt.Sprintf(`<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}" /><EventID>%d</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime="2026-03-02T08:15:30.1234567Z" /><EventRecordID>%d</EventRecordID><Correlation /><Execution ProcessID="3636" ThreadID="4340" /><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>ws-17</Computer><Security UserID="S-1-5-18" /></System><EventData><Data Name="Image">C:\Windows\System32\whoami.exe</Data><Data Name="CommandLine">whoami /all</Data><Data Name="ProcessId">15596</Data></EventData></Event>`, id, record))
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestHandleFiltersAndRate(t *testing.T) {
	cfg := Config{Enabled: true, RatePerMinute: 1000, Channels: []ChannelConfig{
		{Name: "Microsoft-Windows-Sysmon/Operational", ExcludeEventIDs: []int{3}, RatePerMinute: 3},
		{Name: "Security", EventIDs: []int{1}},
	}}
	var got []event.Event
	c := New(cfg, t.TempDir(), func(ev event.Event) error { got = append(got, ev); return nil }, quiet())
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	sysmon, security := c.channels[0], c.channels[1]
	ctx := context.Background()
	for i, id := range []int{1, 3, 1, 1, 1, 1} {
		if err := c.handle(ctx, sysmon, sysmonXML(id, 100+i)); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Minute)
	_ = c.handle(ctx, sysmon, sysmonXML(1, 200))
	_ = c.handle(ctx, security, sysmonXML(2, 300))
	_ = c.handle(ctx, security, []byte("<Event><System>"))
	st := c.Status()
	want := []string{
		"Microsoft-Windows-Sysmon/Operational read 7 sent 4 filtered 1 limited 2 errors 0",
		"Security read 2 sent 0 filtered 1 limited 0 errors 1",
	}
	for i, ch := range st.Channels {
		s := fmt.Sprintf("%s read %d sent %d filtered %d limited %d errors %d", ch.Name, ch.Read, ch.Sent, ch.Filtered, ch.RateLimited, ch.Errors)
		if s != want[i] {
			t.Errorf("channel %d: %s, want %s", i, s, want[i])
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d events spooled, want 4", len(got))
	}
	ev := got[0]
	if ev.Dataset != "windows.sysmon" || ev.Fields["CommandLine"] != "whoami /all" || ev.Fields["ProcessId"] != int64(15596) || ev.String("host.name") != "ws-17" {
		t.Errorf("event %v", ev)
	}
	if err := ev.Validate(); err != nil {
		t.Error(err)
	}
}

// TestHandleWaitsForSpool: an event the spool refuses is offered again
// and not passed over, so the bookmark never moves past an event that is
// not spooled; only the end of ctx gives up, with an error.
func TestHandleWaitsForSpool(t *testing.T) {
	refusals := 2
	var spooled int
	c := New(DefaultConfig(), t.TempDir(), func(event.Event) error {
		if refusals > 0 {
			refusals--
			return errors.New("spool nearly full")
		}
		spooled++
		return nil
	}, quiet())
	c.retry = time.Millisecond
	ch := c.channels[2]
	if err := c.handle(context.Background(), ch, sysmonXML(1, 1)); err != nil || spooled != 1 {
		t.Fatalf("err %v, spooled %d", err, spooled)
	}
	c.emit = func(event.Event) error { return errors.New("spool full") }
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.handle(ctx, ch, sysmonXML(1, 2)); err == nil {
		t.Error("a refused event was passed over")
	}
	if st := c.Status().Channels[2]; st.Sent != 1 || st.Read != 2 {
		t.Errorf("status %+v", st)
	}
}

func TestBookmarks(t *testing.T) {
	c := New(DefaultConfig(), t.TempDir()+"/eventlog", nil, quiet())
	if b, err := c.loadBookmark("Security"); err != nil || b != "" {
		t.Fatalf("no bookmark yet: %q %v", b, err)
	}
	bm := `<BookmarkList><Bookmark Channel='Security' RecordId='912345' IsCurrent='true'/></BookmarkList>`
	for _, ch := range []string{"Security", "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Windows Defender/Operational"} {
		if err := c.saveBookmark(ch, bm+ch); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []string{"Security", "Microsoft-Windows-Sysmon/Operational"} {
		if b, err := c.loadBookmark(ch); err != nil || b != bm+ch {
			t.Errorf("%s: %q %v", ch, b, err)
		}
	}
	if p := c.bookmarkPath("Microsoft-Windows-Sysmon/Operational"); !strings.Contains(p, "windows.sysmon-") {
		t.Errorf("bookmark path %s", p)
	}
	entries, _ := os.ReadDir(c.dir)
	if len(entries) != 3 {
		t.Errorf("%d files in the bookmark directory, want 3 (no temporary files left)", len(entries))
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Config{RatePerMinute: -1, Channels: []ChannelConfig{{Name: ""}, {Name: "Security", EventIDs: []int{70000}}, {Name: "security", RatePerMinute: -2}}}
	err := bad.Validate()
	for _, want := range []string{"eventlog.rate_per_minute", "channels[0].name must be set", "event ID 70000", `channels[2].name "security" listed twice`, "channels[2].rate_per_minute"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	if q := (ChannelConfig{EventIDs: []int{1, 3}}).Query(); q != "*[System[(EventID=1 or EventID=3)]]" {
		t.Errorf("query %s", q)
	}
	if q := (ChannelConfig{}).Query(); q != "*" {
		t.Errorf("query %s", q)
	}
}
