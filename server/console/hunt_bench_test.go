package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"lachan/internal/event"
)

// huntSample is a hunting page's worth of events shaped as the console
// benchmark's store holds them.
func huntSample() []event.Event {
	procs := []string{"powershell.exe", "cmd.exe", "svchost.exe", "chrome.exe"}
	evs := make([]event.Event, huntLimit)
	for i := range evs {
		ev := event.New("linux.process", time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC).Add(-time.Duration(i)*time.Second))
		ev.ID = fmt.Sprintf("ev-%09d", i)
		ev.Set("host.id", fmt.Sprintf("pc-%05d", i%2000))
		ev.Set("host.name", fmt.Sprintf("pc-%05d", i%2000))
		ev.Set("process.name", procs[i%len(procs)])
		ev.Set("process.command_line", procs[i%len(procs)]+" --run "+fmt.Sprint(i%97))
		ev.Set("lachan.unit", []string{"ward-1", "ward-2"}[i%2])
		evs[i] = ev
	}
	return evs
}

// BenchmarkHuntPage is the console's own part of a hunting page of 200
// rows: decoding the API's answer, the sidebar's counts and the template.
func BenchmarkHuntPage(b *testing.B) {
	body, err := json.Marshal(map[string]any{"events": huntSample()})
	if err != nil {
		b.Fatal(err)
	}
	cats, err := loadCatalogs()
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := parseTemplates(cats)
	if err != nil {
		b.Fatal(err)
	}
	q := "process.name:powershell.exe"
	b.ReportAllocs()
	var buf bytes.Buffer
	for b.Loop() {
		d := huntData{Q: q, From: "1h", Columns: huntColumns}
		evs, err := decodeHuntEvents(body)
		if err != nil {
			b.Fatal(err)
		}
		d.Events = evs
		d.Top = topValues(d.Events, huntFields, 5)
		d.Rows = huntRows(d.Events, d.Columns, d.Q, d.From)
		buf.Reset()
		if err := tmpl["vi"]["hunt"].Execute(&buf, &view{Lang: "vi", Title: "hunt.title", Nav: "hunt", Me: &Me{}, Data: d}); err != nil {
			b.Fatal(err)
		}
	}
}
