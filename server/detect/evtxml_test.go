package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"www.velocidex.com/golang/evtx"
)

// This file renders the records of an .evtx file as EvtRender renders
// them on a PC (EvtRenderEventXml), for tests: Windows cannot run here, so
// the XML the agent would see is built from each record as the evtx
// library parses it. The choices, each to look like Windows 10's output:
//
//   - System members in Windows' order; a member that is a map becomes
//     attributes, with its "Value" as the element's text (EventID
//     Qualifiers="0">4</EventID>); an absent Correlation is <Correlation />.
//   - TimeCreated SystemTime: the library's float seconds, to the
//     microsecond it holds exactly, written with Windows' seven decimals
//     (2025-12-27T06:00:34.8386730Z).
//   - GUIDs (the library's upper-case 8-4-4-4-12) in braces and lower case,
//     as Windows 10 writes them.
//   - Keywords, and every integer that the case's JSON rendering (written
//     by a reader that keeps the binary types) shows as 0x… text, as
//     lower-case hexadecimal: those are HexInt32/HexInt64 values, which
//     Windows renders so and the library turns into plain integers.
//   - Other integers in decimal, booleans as true/false, strings escaped.
//   - EventData as <Data Name="n">v</Data> in name order (order carries no
//     meaning for the mapping); unnamed values as <Data>v</Data>; UserData
//     as nested elements.
//
// What it cannot reproduce: binary values (the library's JSON has them in
// base64, Windows in hex) and FILETIME values inside EventData (floats
// here, text on Windows); none of the regression records has a rule on
// either.

// evtxRecord is one record: its nested form as the library parses it and
// the names of its values that are HexInt.
type evtxRecord struct {
	obj map[string]any
	hex map[string]bool
}

// readEVTXRecords parses an .evtx file into records, in file order.
func readEVTXRecords(r io.ReadSeeker) ([]map[string]any, error) {
	chunks, err := evtx.GetChunks(r)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, c := range chunks {
		recs, err := c.Parse(0)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			b, err := json.Marshal(rec.Event)
			if err != nil {
				return nil, err
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				return nil, err
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

// hexNames reads a case's JSON rendering and returns, per EventRecordID,
// the names (System members joined by "_", EventData names) whose values
// are 0x… text.
func hexNames(src []byte) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return out
		}
		ev, _ := obj["Event"].(map[string]any)
		sys, _ := ev["System"].(map[string]any)
		names := map[string]bool{}
		var walk func(prefix string, m map[string]any)
		walk = func(prefix string, m map[string]any) {
			for k, v := range m {
				name := k
				if k == "#attributes" || k == "#text" {
					name = prefix
				} else if prefix != "" {
					name = prefix + "_" + k
				}
				switch x := v.(type) {
				case map[string]any:
					walk(name, x)
				case string:
					if strings.HasPrefix(x, "0x") {
						names[name] = true
					}
				}
			}
		}
		walk("", sys)
		if data, ok := ev["EventData"].(map[string]any); ok {
			for k, v := range data {
				if s, ok := v.(string); ok && strings.HasPrefix(s, "0x") {
					names[k] = true
				}
			}
		}
		out[fmt.Sprint(sys["EventRecordID"])] = names
	}
}

var systemOrder = []string{"Provider", "EventID", "Version", "Level", "Task", "Opcode", "Keywords", "TimeCreated", "EventRecordID", "Correlation", "Execution", "Channel", "Computer", "Security"}

// renderEventXML writes one record as EvtRender would.
func renderEventXML(rec evtxRecord) []byte {
	ev, _ := rec.obj["Event"].(map[string]any)
	sys, _ := ev["System"].(map[string]any)
	var b bytes.Buffer
	b.WriteString(`<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>`)
	keys := append([]string(nil), systemOrder...)
	var rest []string
	for k := range sys {
		if !contains(systemOrder, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range append(keys, rest...) {
		v, ok := sys[k]
		if !ok {
			if k == "Correlation" {
				b.WriteString("<Correlation />")
			}
			continue
		}
		m, isMap := v.(map[string]any)
		if !isMap {
			m = map[string]any{"Value": v}
		}
		fmt.Fprintf(&b, "<%s", k)
		for _, a := range sortedKeys(m) {
			if a != "Value" {
				fmt.Fprintf(&b, ` %s="%s"`, a, xmlText(renderValue(k+"_"+a, m[a], rec.hex)))
			}
		}
		if tv, ok := m["Value"]; ok {
			fmt.Fprintf(&b, ">%s</%s>", xmlText(renderValue(k, tv, rec.hex)), k)
		} else {
			b.WriteString(" />")
		}
	}
	b.WriteString("</System>")
	if data, ok := ev["EventData"]; ok {
		b.WriteString("<EventData>")
		renderEventData(&b, data, rec.hex)
		b.WriteString("</EventData>")
	}
	if ud, ok := ev["UserData"]; ok {
		b.WriteString("<UserData>")
		renderElements(&b, ud, rec.hex)
		b.WriteString("</UserData>")
	}
	b.WriteString("</Event>")
	return b.Bytes()
}

func renderEventData(b *bytes.Buffer, data any, hex map[string]bool) {
	m, ok := data.(map[string]any)
	if !ok {
		return
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch {
		case k == "Data":
			list, isList := v.([]any)
			if !isList {
				list = []any{v}
			}
			for _, el := range list {
				if pair, ok := el.(map[string]any); ok {
					name, _ := pair["Name"].(string)
					fmt.Fprintf(b, `<Data Name="%s">%s</Data>`, xmlText(name), xmlText(renderValue(name, pair["Value"], hex)))
					continue
				}
				fmt.Fprintf(b, "<Data>%s</Data>", xmlText(renderValue("", el, hex)))
			}
		case k == "Binary":
			fmt.Fprintf(b, "<Binary>%s</Binary>", xmlText(renderValue(k, v, hex)))
		default:
			fmt.Fprintf(b, `<Data Name="%s">%s</Data>`, xmlText(k), xmlText(renderValue(k, v, hex)))
		}
	}
}

func renderElements(b *bytes.Buffer, v any, hex map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok {
		b.WriteString(xmlText(renderValue("", v, hex)))
		return
	}
	for _, k := range sortedKeys(m) {
		list, isList := m[k].([]any)
		if !isList {
			list = []any{m[k]}
		}
		for _, el := range list {
			if k == "Value" {
				b.WriteString(xmlText(renderValue(k, el, hex)))
				continue
			}
			fmt.Fprintf(b, "<%s>", k)
			renderElements(b, el, hex)
			fmt.Fprintf(b, "</%s>", k)
		}
	}
}

// renderValue writes one value as Windows writes its type; name says
// which member it is (TimeCreated_SystemTime, Keywords, a hex one).
func renderValue(name string, v any, hex map[string]bool) string {
	switch x := v.(type) {
	case nil:
		return ""
	case json.Number:
		if name == "TimeCreated_SystemTime" || strings.ContainsAny(x.String(), ".eE") {
			f, _ := x.Float64()
			sec, frac := math.Modf(f)
			t := time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC()
			return t.Format("2006-01-02T15:04:05.0000000Z")
		}
		if name == "Keywords" || hex[name] {
			if u, err := parseUint(x.String()); err == nil {
				return fmt.Sprintf("0x%x", u)
			}
		}
		return x.String()
	case bool:
		return fmt.Sprint(x)
	case string:
		if isLibraryGUID(x) {
			return "{" + strings.ToLower(x) + "}"
		}
		return x
	case []any:
		parts := make([]string, len(x))
		for i, el := range x {
			parts[i] = renderValue(name, el, hex)
		}
		return strings.Join(parts, "\n")
	}
	return fmt.Sprint(v)
}

func parseUint(s string) (uint64, error) {
	var u uint64
	_, err := fmt.Sscan(s, &u)
	return u, err
}

func isLibraryGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func xmlText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readCaseXML renders every record of a case's .evtx files; hex types
// come from the case's JSON renderings.
func readCaseXML(dir string, files []string) ([][]byte, error) {
	var out [][]byte
	for _, f := range files {
		js, _ := os.ReadFile(strings.TrimSuffix(f, ".evtx") + ".json")
		hex := hexNames(js)
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		recs, err := readEVTXRecords(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, obj := range recs {
			ev, _ := obj["Event"].(map[string]any)
			sys, _ := ev["System"].(map[string]any)
			out = append(out, renderEventXML(evtxRecord{obj: obj, hex: hex[fmt.Sprint(sys["EventRecordID"])]}))
		}
	}
	return out, nil
}
