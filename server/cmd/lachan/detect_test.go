package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"lachan/internal/event"
	"lachan/server/correlate"
	"lachan/server/detect/winlog"
)

// oldPrint is how lachan detect wrote an alert before AlertEncoder: the
// alert event through encoding/json, then made safe for a terminal. The
// output must stay byte for byte what it gave.
func oldPrint(w io.Writer, a event.Event) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return err
	}
	var out bytes.Buffer
	for _, r := range b.String() {
		if r >= 0x7f && escapedRune(r) {
			out.WriteString(`\u`)
			out.WriteString(strings.Repeat("0", 4-len(hexOf(r))) + hexOf(r))
		} else {
			out.WriteRune(r)
		}
	}
	_, err := w.Write(out.Bytes())
	return err
}

func hexOf(r rune) string {
	const digits = "0123456789abcdef"
	var s []byte
	for ; r > 0; r >>= 4 {
		s = append([]byte{digits[r&0xf]}, s...)
	}
	return string(s)
}

// TestDetectOutputUnchanged runs the alert-dense benchmark events (every
// SigmaHQ regression event, record numbers and times varied) through the
// command's handler and through the old alert path: same bytes. It does
// the same with text a terminal would act on in the events.
func TestDetectOutputUnchanged(t *testing.T) {
	e, set := sigmaHQ(t)
	dense, _, _ := eventSets(t, e, 400)
	bidi := strings.ReplaceAll(string(dense), `cmd.exe`, "cmd\u202e\u0085.exe")
	if bidi == string(dense) {
		t.Fatal("no cmd.exe in the events")
	}
	for name, src := range map[string]string{"dense": string(dense), "terminal controls": bidi} {
		corr, err := correlate.New(set, nil, correlate.DefaultConfig(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		var got, want bytes.Buffer
		d := newDetectRun(e, corr, &got, io.Discard)
		if !d.direct {
			t.Fatal("SigmaHQ has correlation rules now; compare the correlation path too")
		}
		if !d.brief {
			t.Fatal("events are read with their IDs and own values; the brief reading is not compared")
		}
		const path = "events/dense.jsonl"
		if err := readEventFile("-", strings.NewReader(src), d.brief, d.handler(context.Background(), path)); err != nil {
			t.Fatal(err)
		}
		if err := d.flush(); err != nil {
			t.Fatal(err)
		}
		err = readEventFile("-", strings.NewReader(src), false, func(ev event.Event, err error) error {
			if err != nil {
				return err
			}
			ev.Set("log.file.path", path)
			for _, m := range e.Match(ev) {
				if err := oldPrint(&want, m.Alert(ev)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if d.alerts < 400 || got.Len() == 0 {
			t.Fatalf("%s: %d alerts", name, d.alerts)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
			for i := range min(len(g), len(w)) {
				if g[i] != w[i] {
					t.Fatalf("%s: line %d differs:\n got %s\nwant %s", name, i+1, g[i], w[i])
				}
			}
			t.Fatalf("%s: %d lines, want %d", name, len(g), len(w))
		}
	}
}

// TestDetectCorrelationPath checks that, with a correlation rule loaded,
// alerts still go through the correlator and keep their form.
func TestDetectCorrelationPath(t *testing.T) {
	e, _ := sigmaHQ(t)
	dense, _, _ := eventSets(t, e, 50)
	corr, err := correlate.New(nil, nil, correlate.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var direct, viaEvents bytes.Buffer
	for _, c := range []struct {
		out    *bytes.Buffer
		direct bool
	}{{&direct, true}, {&viaEvents, false}} {
		d := newDetectRun(e, corr, c.out, io.Discard)
		d.direct = c.direct
		d.brief = d.brief && c.direct // the correlator keeps events
		if err := readEventFile("-", bytes.NewReader(dense), d.brief, d.handler(context.Background(), "x.jsonl")); err != nil {
			t.Fatal(err)
		}
		if err := d.flush(); err != nil {
			t.Fatal(err)
		}
	}
	if direct.Len() == 0 || !bytes.Equal(direct.Bytes(), viaEvents.Bytes()) {
		t.Errorf("direct and correlation paths differ (%d and %d bytes)", direct.Len(), viaEvents.Len())
	}
}

// TestDetectIDAfterMatch: the ID an event read briefly is given after it
// matched is the one reading it whole gives, with or without a
// log.file.path of the record's own, which the file's path replaces.
func TestDetectIDAfterMatch(t *testing.T) {
	for _, data := range []string{`"Image":"C:\\x.exe"`, `"Image":"C:\\x.exe","log.file.path":"own"`} {
		src := `{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"pc",` +
			`"EventRecordID":7,"TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":{` + data + `}}}`
		read := func(r func(io.Reader, winlog.Handler) error) (got event.Event) {
			err := r(strings.NewReader(src), func(ev event.Event, err error) error {
				got = ev
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		whole, brief := read(winlog.ReadJSON), read(winlog.ReadJSONBrief)
		if brief.ID != "" || whole.ID == "" {
			t.Fatalf("IDs %q (brief) and %q (whole)", brief.ID, whole.ID)
		}
		var rec fieldValue
		rec.v, rec.ok = brief.Fields["log.file.path"]
		brief.Set("log.file.path", "x.jsonl")
		withID(&brief, "x.jsonl", any("x.jsonl"), rec)
		if brief.ID != whole.ID || brief.Fields["log.file.path"] != "x.jsonl" {
			t.Errorf("%s: ID %q, want %q; path %v", data, brief.ID, whole.ID, brief.Fields["log.file.path"])
		}
	}
}
