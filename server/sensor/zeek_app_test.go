package sensor

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
)

// zeekValue maps Zeek's unset and empty markers to "".
func zeekValue(s string) string {
	if s == "-" || s == "(empty)" {
		return ""
	}
	return s
}

func TestZeekHTTP(t *testing.T) {
	zeek := filepath.Join(sharedData(t), "pcap", "zeek")
	for _, tc := range []struct{ trace, log string }{
		{"wikipedia.pcap", "opt.basic/http.log"},
		{"http/methods.pcap", "scripts.base.protocols.http.http-methods/http.log"},
	} {
		t.Run(tc.trace, func(t *testing.T) {
			all := decodeFile(t, filepath.Join(zeek, "Traces", filepath.FromSlash(tc.trace)))
			evs := byDataset(all, datasetHTTP)
			midway := map[string]bool{} // connections whose SYN the capture missed
			for _, ev := range byDataset(all, event.DatasetFlow) {
				if !slices.Contains(ev.Strings("tcp.flags"), "SYN") {
					midway[eventTuple(ev)] = true
				}
			}
			byTuple := map[string][]event.Event{}
			for _, ev := range evs {
				byTuple[eventTuple(ev)] = append(byTuple[eventTuple(ev)], ev)
			}
			rows := zeekLog(t, filepath.Join(zeek, "Baseline", filepath.FromSlash(tc.log)))
			skips := zeekSkips{t: t, rows: len(rows)}
			for _, row := range rows {
				row["proto"] = "tcp" // http.log has no proto column
				k := zeekTuple(row)
				if len(byTuple[k]) == 0 {
					t.Errorf("Zeek HTTP %s depth %s: no record", k, row["trans_depth"])
					continue
				}
				ev := byTuple[k][0]
				byTuple[k] = byTuple[k][1:]
				compareZeekHTTP(t, k, row, ev)
			}
			for k, left := range byTuple {
				if len(left) > 0 && midway[k] {
					// Zeek does not attach its HTTP analyzer to a connection
					// picked up midway (no SYN); we parse it all the same.
					skips.skipped += len(left)
					t.Logf("skipping %d HTTP records on %s: the capture missed its SYN", len(left), k)
				} else if len(left) > 0 {
					t.Errorf("%d HTTP records for %s are not in Zeek's http.log", len(left), k)
				}
			}
			skips.check()
		})
	}
}

func compareZeekHTTP(t *testing.T, k string, row map[string]string, ev event.Event) {
	t.Helper()
	status := ev.String("http.response.status_code")
	if zeekValue(row["status_code"]) == "0" {
		// Zeek writes status 0 for an HTTP/0.9 reply, which has no status line.
		row["status_code"] = ""
	}
	got := map[string]string{
		"method":      ev.String("http.request.method"),
		"host":        ev.String("url.domain"),
		"uri":         ev.String("url.original"),
		"status_code": status,
		// Bodies are counted as Zeek counts them: dechunked, to the close.
		"request_body_len":  ev.String("http.request.body.bytes"),
		"response_body_len": ev.String("http.response.body.bytes"),
	}
	for zf, v := range got {
		want := zeekValue(row[zf])
		if zf == "host" {
			want = hostOnly(want) // url.domain has no port
		}
		if v != want {
			t.Errorf("%s depth %s: Zeek %s = %q, ours %q", k, row["trans_depth"], zf, want, v)
		}
	}
}

func TestZeekTLS(t *testing.T) {
	zeek := filepath.Join(sharedData(t), "pcap", "zeek")
	evs := byDataset(decodeFile(t, filepath.Join(zeek, "Traces", "tls", "tls1.2.pcap")), datasetTLS)
	byTuple := map[string]event.Event{}
	for _, ev := range evs {
		byTuple[eventTuple(ev)] = ev
	}
	base := filepath.Join(zeek, "Baseline", "scripts.base.protocols.ssl.tls-1.2")
	rows := zeekLog(t, filepath.Join(base, "ssl.log"))
	skips := zeekSkips{t: t, rows: len(rows)}
	var leaves []string
	for _, row := range rows {
		row["proto"] = "tcp"
		k := zeekTuple(row)
		ev, ok := byTuple[k]
		if !ok {
			t.Errorf("Zeek TLS %s: no record", k)
			continue
		}
		delete(byTuple, k)
		version := "TLSv" + strings.ReplaceAll(ev.String("tls.version"), ".", "")
		for zf, v := range map[string]string{
			"version":     version,
			"cipher":      ev.String("tls.cipher"),
			"server_name": ev.String("tls.client.server_name"),
			"established": map[bool]string{true: "T", false: "F"}[ev.Fields["tls.established"] == true],
		} {
			if want := zeekValue(row[zf]); v != want {
				t.Errorf("%s: Zeek %s = %q, ours %q", k, zf, want, v)
			}
		}
		if fps := strings.Split(row["cert_chain_fps"], ","); len(fps) > 0 {
			leaves = append(leaves, fps[0])
		}
		// Zeek logs no fingerprints; these are what tshark computes
		// (tls.handshake.ja3 and ja3s) for this trace.
		if got := ev.String("tls.client.ja3"); got != "bd9c99b3a0f752c3ab8b052a79e9de3e" {
			t.Errorf("%s: JA3 %s, tshark says bd9c99b3a0f752c3ab8b052a79e9de3e", k, got)
		}
		if got := ev.String("tls.server.ja3s"); got != "c253ec3ad88e42f8da4032682892f9a0" {
			t.Errorf("%s: JA3S %s, tshark says c253ec3ad88e42f8da4032682892f9a0", k, got)
		}
		if ev.String("tls.client.ja4") == "" {
			t.Errorf("%s: no JA4", k)
		}
	}
	for k := range byTuple {
		t.Errorf("TLS record %s is not in Zeek's ssl.log", k)
	}
	skips.check()
	compareZeekX509(t, filepath.Join(base, "x509.log"), evs, leaves)
}

// compareZeekX509 checks the leaf certificates, which Zeek's x509.log
// names by SHA-256 fingerprint; chain certificates are not in our records.
func compareZeekX509(t *testing.T, path string, evs []event.Event, leaves []string) {
	t.Helper()
	certs := map[string]event.Event{}
	for _, ev := range evs {
		certs[strings.ToLower(ev.String("tls.server.hash.sha256"))] = ev
	}
	rows := map[string]map[string]string{}
	for _, row := range zeekLog(t, path) {
		rows[row["fingerprint"]] = row
	}
	if len(leaves) == 0 {
		t.Fatal("no leaf certificates in ssl.log")
	}
	for _, fp := range leaves {
		row, ok := rows[fp]
		if !ok {
			t.Errorf("leaf %s is not in x509.log", fp)
			continue
		}
		ev, ok := certs[fp]
		if !ok {
			t.Errorf("no TLS record with leaf certificate %s", fp)
			continue
		}
		for zf, ef := range map[string]string{
			"certificate.subject": "tls.server.x509.subject.distinguished_name",
			"certificate.issuer":  "tls.server.x509.issuer.distinguished_name",
			"certificate.serial":  "tls.server.x509.serial_number",
		} {
			if got := ev.String(ef); got != row[zf] {
				t.Errorf("certificate %s: Zeek %s = %q, ours %s = %q", fp, zf, row[zf], ef, got)
			}
		}
		for zf, ef := range map[string]string{
			"certificate.not_valid_before": "tls.server.x509.not_before",
			"certificate.not_valid_after":  "tls.server.x509.not_after",
		} {
			want := unixTime(t, row[zf])
			if got := ev.String(ef); got != want {
				t.Errorf("certificate %s: Zeek %s = %s, ours %s = %s", fp, zf, want, ef, got)
			}
		}
	}
}

// unixTime renders Zeek's "seconds.micros" time as RFC 3339, as events
// carry times.
func unixTime(t *testing.T, s string) string {
	t.Helper()
	sec, _, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		t.Fatalf("Zeek time %q: %v", s, err)
	}
	return time.Unix(n, 0).UTC().Format(time.RFC3339Nano)
}
