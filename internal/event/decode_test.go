package event

import (
	"bytes"
	"reflect"
	"testing"

	"lachan/test/procstat"
)

// agentLines are lines as agents send them (flat keys, as AppendJSON
// writes them): a Windows process creation, an osquery row, a YARA finding.
var agentLines = [][]byte{
	[]byte(`{"@timestamp":"2026-12-03T08:15:02.123456789Z","event.dataset":"windows.sysmon","event.id":"0193a1b2c3d4e5f60718293a4b5c6d7e","agent.id":"agt-000123","event.action":"process-created","event.category":["process"],"event.code":1,"event.kind":"event","host.hostname":"WARD1-PC017","host.name":"ward1-pc017","host.os.family":"windows","process.command_line":"\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" -NoProfile -ExecutionPolicy Bypass -File C:\\Users\\bs.nguyen\\AppData\\Local\\Temp\\chạy.ps1","process.executable":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","process.hash.sha256":"de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c","process.name":"powershell.exe","process.parent.executable":"C:\\Windows\\explorer.exe","process.parent.pid":4120,"process.pid":7312,"user.domain":"BVCR","user.name":"bs.nguyen","winlog.channel":"Microsoft-Windows-Sysmon/Operational","winlog.event_data.IntegrityLevel":"Medium","winlog.event_data.LogonId":"0x3e7","winlog.record_id":88123412}`),
	[]byte(`{"@timestamp":"2026-12-03T08:15:02Z","event.dataset":"osquery.result","event.id":"0193a1b2c3d4e5f60718293a4b5c6d7f","agent.id":"agt-000123","host.name":"ward1-pc017","osquery.action":"added","osquery.name":"listening_ports","osquery.columns":{"address":"0.0.0.0","pid":"1044","port":"3389","protocol":"6"},"destination.port":3389,"process.pid":1044,"network.transport":"tcp","osquery.epoch":0,"osquery.counter":12}`),
	[]byte(`{"@timestamp":"2026-12-03T08:15:03.5+07:00","event.dataset":"yara.finding","event.id":"f2c9d1e0a7b64c3e9a8b7c6d5e4f3a2b","agent.id":"agt-000123","host.name":"ward1-pc017","file.path":"C:\\Users\\Public\\Downloads\\hóa đơn.exe","file.size":482304,"file.hash.sha256":"0f3a9c1de2b4a5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e","rule.name":"Win_Trojan_Agent","yara.meta":{"author":"lab","score":80,"tags":["trojan","dropper"]},"yara.strings":[{"id":"$a","offset":1024},{"id":"$b","offset":2048}],"event.severity":0.75,"threat.indicator.confidence":true}`),
}

// TestDecoderAsEncodingJSON checks the scanner against encoding/json: the
// same events, byte for byte once encoded, and the same errors; the
// agents' usual lines must take the scanner.
func TestDecoderAsEncodingJSON(t *testing.T) {
	common := append([][]byte{
		[]byte(` {"@timestamp":"2026-11-23T08:00:00Z","event":{"id":"a1","dataset":"d.x"},"host":{"name":"pc","ip":["10.0.0.1","::1"]},"n":[1,-0,2.50,1e3,-7e-9,{"a":2,"a":3}],"z":null,"b":false} `),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","s":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t\u0000","big":123456789012345678,"bigger":9223372036854775807,"huge":99999999999999999999}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","lachan.alert.matched":{"a.b":{"c":1}},"":{"x":"flattened without a prefix"},"e":{}}`),
	}, agentLines...)
	for _, line := range common {
		if _, ok := (&Decoder{}).scan(line); !ok {
			t.Errorf("left the scanner's path: %s", line)
		}
	}
	unusual := [][]byte{
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","a":1,"a":2}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","a":{"b":1},"a":{"c":2}}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","a":{"b":1},"a":"s"}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","a":"s","a":{"b":1}}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","a.b":1,"a":{"b":2}}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x"} trailing`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","s":"\ud800"}`),
		[]byte("{\"@timestamp\":\"2026-11-23T08:00:00Z\",\"event.id\":\"a1\",\"event.dataset\":\"d.x\",\"s\":\"a\xffb\"}"),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","f":1e400}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","f":01}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","Bad":1}`),
		[]byte(`{"@timestamp":"yesterday","event.id":"a1","event.dataset":"d.x"}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":7,"event.dataset":"d.x"}`),
		[]byte(`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1}}}}}}}}}}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","l":[[[[[[[[[[1]]]]]]]]]]}`),
		[]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","source.ip":"not an address"}`),
		[]byte(`null`), []byte(`[]`), []byte(`{`), []byte(``), []byte(`{"a" 1}`), []byte(`{"a":1,}`),
	}
	for _, line := range append(common, unusual...) {
		compareDecoders(t, line, true)
	}
}

// compareDecoders fails unless the Decoder and encoding/json agree on
// line; sameErr compares the errors' text too (which, for a line with
// several faults, encoding/json's map order may choose among).
func compareDecoders(t *testing.T, line []byte, sameErr bool) {
	t.Helper()
	var want Event
	werr := want.unmarshalReflect(line)
	for _, d := range []*Decoder{NewDecoder(), {}} {
		got, err := d.Decode(line)
		if (err == nil) != (werr == nil) || sameErr && err != nil && err.Error() != werr.Error() {
			t.Fatalf("%s:\ndecoder error %v\nencoding/json error %v", line, err, werr)
		}
		if err != nil {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\ndecoder %#v\nencoding/json %#v", line, got, want)
		}
		gb, _ := got.MarshalJSON()
		wb, _ := want.MarshalJSON()
		if !bytes.Equal(gb, wb) {
			t.Fatalf("%s: encoded\n%s\nagainst\n%s", line, gb, wb)
		}
	}
}

// FuzzDecoder: on any input the Decoder and encoding/json agree.
func FuzzDecoder(f *testing.F) {
	for _, l := range agentLines {
		f.Add(l)
	}
	f.Add([]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event":{"id":"a1","dataset":"d.x"},"a":{"b":1},"a":{"c":[1,2.5,"\u00e9"]}}`))
	f.Add([]byte(`{"@timestamp":"2026-11-23T08:00:00Z","event.id":"a1","event.dataset":"d.x","s":"\ud83d\ude00","n":-0.0e+1}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		compareDecoders(t, line, false)
	})
}

// BenchmarkDecode decodes agents' lines with the scanner (Decoder, one
// per batch of 1,000 lines as the server makes them) and with
// encoding/json (reflect), reporting events per CPU-second.
func BenchmarkDecode(b *testing.B) {
	for _, c := range []struct {
		name   string
		decode func(d *Decoder, line []byte) error
	}{
		{"decoder", func(d *Decoder, line []byte) error { _, err := d.Decode(line); return err }},
		{"reflect", func(_ *Decoder, line []byte) error { var ev Event; return ev.unmarshalReflect(line) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var size int
			for _, l := range agentLines {
				size += len(l)
			}
			b.SetBytes(int64(size / len(agentLines)))
			b.ReportAllocs()
			d := NewDecoder()
			cpu := procstat.SelfCPU()
			for i := 0; b.Loop(); i++ {
				if i%1000 == 0 {
					d = NewDecoder()
				}
				if err := c.decode(d, agentLines[i%len(agentLines)]); err != nil {
					b.Fatal(err)
				}
			}
			if used := procstat.SelfCPU() - cpu; used > 0 {
				b.ReportMetric(float64(b.N)/used.Seconds(), "events/cpu-s")
			}
		})
	}
}
