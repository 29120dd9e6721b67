package sensor

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
)

// zeekLog reads a Zeek ASCII log into rows keyed by the names in its
// #fields header.
func zeekLog(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fields []string
	var rows []map[string]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if rest, ok := strings.CutPrefix(text, "#fields\t"); ok {
			fields = strings.Split(rest, "\t")
			continue
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.Split(text, "\t")
		if len(cols) != len(fields) {
			t.Fatalf("%s:%d: %d columns, #fields names %d", path, line, len(cols), len(fields))
		}
		row := make(map[string]string, len(cols))
		for i, c := range cols {
			row[fields[i]] = c
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if fields == nil {
		t.Fatalf("%s: no #fields header", path)
	}
	return rows
}

func zeekTuple(row map[string]string) string {
	return fmt.Sprintf("%s %s:%s > %s:%s", row["proto"], row["id.orig_h"], row["id.orig_p"], row["id.resp_h"], row["id.resp_p"])
}

func eventTuple(ev event.Event) string {
	return fmt.Sprintf("%s %s:%s > %s:%s", ev.String("network.transport"), ev.String("source.ip"),
		ev.String("source.port"), ev.String("destination.ip"), ev.String("destination.port"))
}

// zeekSkips counts rows skipped because Zeek defines them differently and
// fails the test when they are more than a tenth of the rows.
type zeekSkips struct {
	t       *testing.T
	rows    int
	skipped int
}

func (s *zeekSkips) skip(row map[string]string, why string) {
	s.skipped++
	s.t.Logf("skipping Zeek row %s %s: %s", row["uid"], zeekTuple(row), why)
}

func (s *zeekSkips) check() {
	if s.rows == 0 {
		s.t.Fatal("no Zeek rows compared")
	}
	if s.skipped*10 > s.rows {
		s.t.Errorf("skipped %d of %d Zeek rows, more than a tenth", s.skipped, s.rows)
	}
}

func TestZeekConn(t *testing.T) {
	zeek := filepath.Join(sharedData(t), "pcap", "zeek")
	evs := decodeFile(t, filepath.Join(zeek, "Traces", "wikipedia.pcap"))
	flows := map[string]event.Event{}
	for _, ev := range byDataset(evs, event.DatasetFlow) {
		k := eventTuple(ev)
		if _, dup := flows[k]; dup {
			t.Errorf("two flows for %s", k)
		}
		flows[k] = ev
	}
	rows := zeekLog(t, filepath.Join(zeek, "Baseline", "opt.basic", "conn.log"))
	skips := zeekSkips{t: t, rows: len(rows)}
	for _, row := range rows {
		if row["proto"] == "icmp" {
			// Zeek puts the ICMP type and code in the port columns; our
			// flows carry them as icmp.type and icmp.code instead.
			skips.skip(row, "ICMP ports are type and code in Zeek")
			continue
		}
		k := zeekTuple(row)
		ev, ok := flows[k]
		if !ok {
			t.Errorf("Zeek conn %s: no flow", k)
			continue
		}
		delete(flows, k)
		for zf, ef := range map[string]string{
			"orig_pkts": "source.packets", "orig_ip_bytes": "source.bytes",
			"resp_pkts": "destination.packets", "resp_ip_bytes": "destination.bytes",
		} {
			if got := ev.String(ef); got != row[zf] {
				t.Errorf("%s: %s = %s, Zeek %s = %s", k, ef, got, zf, row[zf])
			}
		}
		// Zeek leaves duration unset for a flow of one packet.
		if d := row["duration"]; d != "-" {
			want, err := time.ParseDuration(d + "s")
			if err != nil {
				t.Fatalf("%s: duration %q: %v", k, d, err)
			}
			if got := time.Duration(ev.Int("event.duration")); (got - want).Abs() > time.Microsecond {
				t.Errorf("%s: event.duration = %v, Zeek duration = %v", k, got, want)
			}
		}
	}
	for k := range flows {
		t.Errorf("flow %s is not in Zeek's conn.log", k)
	}
	skips.check()
}

func TestZeekDNS(t *testing.T) {
	zeek := filepath.Join(sharedData(t), "pcap", "zeek")
	for _, tc := range []struct{ trace, log string }{
		{"wikipedia.pcap", "opt.basic/dns.log"},
		{"dns-txt-multiple.pcap", "scripts.base.protocols.dns.multiple-txt-strings/dns.log"},
	} {
		t.Run(tc.trace, func(t *testing.T) {
			evs := byDataset(decodeFile(t, filepath.Join(zeek, "Traces", tc.trace)), event.DatasetDNS)
			// Zeek logs repeated unanswered queries (LLMNR, NetBIOS) as
			// separate rows with the same tuple and ID, so match as a multiset.
			byKey := map[string][]event.Event{}
			for _, ev := range evs {
				k := eventTuple(ev) + " id " + ev.String("dns.id")
				byKey[k] = append(byKey[k], ev)
			}
			rows := zeekLog(t, filepath.Join(zeek, "Baseline", filepath.FromSlash(tc.log)))
			skips := zeekSkips{t: t, rows: len(rows)}
			for _, row := range rows {
				k := zeekTuple(row) + " id " + row["trans_id"]
				if len(byKey[k]) == 0 {
					t.Errorf("Zeek DNS %s: no event", k)
					continue
				}
				ev := byKey[k][0]
				byKey[k] = byKey[k][1:]
				compareZeekDNS(t, k, row, ev)
			}
			for k, left := range byKey {
				if len(left) > 0 {
					t.Errorf("%d DNS events for %s are not in Zeek's dns.log", len(left), k)
				}
			}
			skips.check()
		})
	}
}

func compareZeekDNS(t *testing.T, k string, row map[string]string, ev event.Event) {
	t.Helper()
	answers, _ := ev.Fields["dns.answers"].([]any)
	query := ev.String("dns.question.name")
	if query == "" && len(answers) > 0 {
		// An mDNS response carries no question; Zeek logs the name of its
		// first answer as the query.
		query = answers[0].(map[string]any)["name"].(string)
	}
	want := map[string]string{
		"query":      query,
		"qtype_name": orDash(ev.String("dns.question.type")),
		"rcode_name": orDash(ev.String("dns.response_code")),
		"answers":    orDash(zeekAnswers(answers)),
	}
	if row["qclass"] == "-" && row["rtt"] == "-" && row["rcode_name"] != "-" {
		// Zeek logged the response without its query (dns-txt-multiple.pcap
		// under "zeek -b" does so although the query is in the trace), so
		// it has no query type; ours has the query's.
		delete(want, "qtype_name")
	}
	for zf, got := range want {
		// Zeek lowercases DNS query names; we keep them as sent.
		if zf == "query" && strings.EqualFold(row[zf], got) {
			continue
		}
		if row[zf] != got {
			t.Errorf("%s: Zeek %s = %q, ours %q", k, zf, row[zf], got)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// zeekAnswers renders answers as Zeek's dns.log does: only the target of
// an SRV record. TXT data is already in Zeek's form.
func zeekAnswers(answers []any) string {
	var out []string
	for _, a := range answers {
		m := a.(map[string]any)
		data := m["data"].(string)
		if m["type"] == "SRV" {
			f := strings.Fields(data)
			data = f[len(f)-1]
		}
		out = append(out, data)
	}
	return strings.Join(out, ",")
}

func decodeFile(t *testing.T, path string) []event.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	evs, st := decodeAll(t, data, DefaultConfig())
	if st.DecodeErrors != 0 {
		t.Errorf("%s: %d decode errors: %v", path, st.DecodeErrors, st.Errors)
	}
	return evs
}
