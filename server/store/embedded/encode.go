package embedded

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"lachan/internal/event"
)

// appendEventJSON appends the stored form of ev to b: the JSON object
// event.Event.MarshalJSON writes, less @timestamp and event.id, which the
// event's key holds already (<ts><id>). Leaving them out saves about 15
// bytes of every stored event after compression. Documents written before
// hold them and start with fullDocPrefix; decodeStored reads both.
func appendEventJSON(b []byte, ev event.Event) ([]byte, error) {
	keys := make([]string, 0, len(ev.Fields))
	for k := range ev.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, `{"event.dataset":`...)
	b = event.AppendString(b, ev.Dataset)
	for _, k := range keys {
		b = append(b, ',')
		b = event.AppendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = event.AppendValue(b, ev.Fields[k]); err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

// fullDocPrefix starts every document that holds its own @timestamp and
// event.id (event.Event.AppendJSON's form).
const fullDocPrefix = `{"@timestamp":`

// fullDoc returns doc with the @timestamp and event.id of its sort key
// put back, or doc itself when it has them (or tsid is nil).
func fullDoc(tsid, doc []byte) []byte {
	if tsid == nil || bytes.HasPrefix(doc, []byte(fullDocPrefix)) || len(doc) == 0 || doc[0] != '{' {
		return doc
	}
	ts, ok := decodeTS(tsid)
	if !ok {
		return doc
	}
	b := make([]byte, 0, len(doc)+64+len(tsid))
	b = append(b, `{"@timestamp":"`...)
	b = ts.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","event.id":`...)
	b = event.AppendString(b, string(tsid[tsLen:]))
	if rest := doc[1:]; len(bytes.TrimLeft(rest, " \t\r\n")) > 0 && bytes.TrimLeft(rest, " \t\r\n")[0] != '}' {
		b = append(b, ',')
	}
	return append(b, doc[1:]...)
}
