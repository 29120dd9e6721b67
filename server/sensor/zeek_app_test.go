package sensor

import (
	"fmt"
	"net"
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
	var chains [][]string
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
		fps := strings.Split(row["cert_chain_fps"], ",")
		chains = append(chains, fps)
		var ours []string
		for _, c := range chainOf(ev) {
			ours = append(ours, strings.ToLower(c["hash.sha256"].(string)))
		}
		if strings.Join(ours, ",") != row["cert_chain_fps"] {
			t.Errorf("%s: chain %v, Zeek cert_chain_fps %s", k, ours, row["cert_chain_fps"])
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
	compareZeekX509(t, filepath.Join(base, "x509.log"), evs, chains)
}

func chainOf(ev event.Event) []map[string]any {
	var out []map[string]any
	list, _ := ev.Fields["tls.server.x509_chain"].([]any)
	for _, c := range list {
		out = append(out, c.(map[string]any))
	}
	return out
}

// compareZeekX509 compares every certificate of every chain with its row
// of Zeek's x509.log, matched by SHA-256 fingerprint, field for field;
// the leaf's fields under tls.server.x509 must be its chain entry's.
func compareZeekX509(t *testing.T, path string, evs []event.Event, chains [][]string) {
	t.Helper()
	certs := map[string]map[string]any{}
	hosts := map[string]bool{} // leaves
	for _, ev := range evs {
		for i, c := range chainOf(ev) {
			fp := strings.ToLower(c["hash.sha256"].(string))
			certs[fp] = c
			if i == 0 {
				hosts[fp] = true
				for k, v := range c {
					name := "tls.server.x509." + k
					if strings.HasPrefix(k, "hash.") {
						name = "tls.server." + k
					}
					if got := fmt.Sprint(ev.Fields[name]); got != fmt.Sprint(v) {
						t.Errorf("leaf %s: %s = %s, chain entry %s = %s", fp, name, got, k, fmt.Sprint(v))
					}
				}
			}
		}
	}
	rows := map[string]map[string]string{}
	for _, row := range zeekLog(t, path) {
		rows[row["fingerprint"]] = row
	}
	if len(chains) == 0 || len(rows) == 0 {
		t.Fatal("no certificates in ssl.log or x509.log")
	}
	for _, chain := range chains {
		for _, fp := range chain {
			if _, ok := rows[fp]; !ok {
				t.Errorf("certificate %s of ssl.log is not in x509.log", fp)
			}
		}
	}
	for fp, row := range rows {
		c, ok := certs[fp]
		if !ok {
			t.Errorf("x509.log certificate %s: not in any chain of ours", fp)
			continue
		}
		for zf, want := range row {
			if zf == "ts" || zf == "fingerprint" {
				continue
			}
			got, ok := zeekX509Value(t, zf, c, hosts[fp])
			if !ok {
				t.Errorf("x509.log field %s has no counterpart", zf)
				continue
			}
			if got != want {
				t.Errorf("certificate %s: Zeek %s = %q, ours %q", fp, zf, want, got)
			}
		}
	}
}

// zeekX509Value renders our certificate entry's counterpart of an
// x509.log field as Zeek writes it.
func zeekX509Value(t *testing.T, field string, c map[string]any, host bool) (string, bool) {
	str := func(k string) string {
		if v, ok := c[k]; ok {
			return fmt.Sprint(v)
		}
		return "-"
	}
	boolean := func(v bool) string { return map[bool]string{true: "T", false: "F"}[v] }
	zeekTime := func(k string) string {
		ts, err := time.Parse(time.RFC3339Nano, str(k))
		if err != nil {
			t.Fatalf("%s %q: %v", k, str(k), err)
		}
		return strconv.FormatInt(ts.Unix(), 10) + ".000000"
	}
	san := func(kind string) string {
		var out []string
		names, _ := c["alternative_names"].([]any)
		for _, n := range names {
			s := n.(string)
			var k string
			switch {
			case strings.Contains(s, "://"):
				k = "uri"
			case strings.Contains(s, "@"):
				k = "email"
			case net.ParseIP(s) != nil:
				k = "ip"
			default:
				k = "dns"
			}
			if k == kind {
				out = append(out, s)
			}
		}
		return orDash(strings.Join(out, ","))
	}
	switch field {
	case "certificate.version":
		return str("version_number"), true
	case "certificate.serial":
		return str("serial_number"), true
	case "certificate.subject":
		return str("subject.distinguished_name"), true
	case "certificate.issuer":
		return str("issuer.distinguished_name"), true
	case "certificate.not_valid_before":
		return zeekTime("not_before"), true
	case "certificate.not_valid_after":
		return zeekTime("not_after"), true
	case "certificate.key_alg":
		return str("public_key_algorithm"), true
	case "certificate.sig_alg":
		return str("signature_algorithm"), true
	case "certificate.key_type":
		// Zeek's key type is OpenSSL's family of the key algorithm.
		kt := map[string]string{"rsaEncryption": "rsa", "id-ecPublicKey": "ecdsa", "dsaEncryption": "dsa"}[str("public_key_algorithm")]
		return orDash(kt), true
	case "certificate.key_length":
		return str("public_key_size"), true
	case "certificate.exponent":
		return str("public_key_exponent"), true
	case "certificate.curve":
		return str("public_key_curve"), true
	case "san.dns", "san.uri", "san.email", "san.ip":
		return san(strings.TrimPrefix(field, "san.")), true
	case "basic_constraints.ca":
		if v, ok := c["basic_constraints.ca"].(bool); ok {
			return boolean(v), true
		}
		return "-", true
	case "basic_constraints.path_len":
		return str("basic_constraints.path_len"), true
	case "host_cert":
		return boolean(host), true
	case "client_cert":
		return "F", true // the sensor records server chains only
	}
	return "", false
}
