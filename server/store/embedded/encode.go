package embedded

import (
	"bytes"
	"fmt"
	"time"

	"lachan/internal/event"
)

// appendEventJSON appends the stored form of ev to b: the JSON object
// event.Event.MarshalJSON writes, less @timestamp and event.id, which the
// event's key holds already (<ts><id>). Leaving them out saves about 15
// bytes of every stored event after compression. Documents written before
// hold them and start with fullDocPrefix; decodeStored reads both.
func appendEventJSON(b []byte, ev event.Event) ([]byte, error) {
	return appendDoc(b, ev.Dataset, appendFields(nil, ev))
}

// appendDoc is appendEventJSON for an event of dataset ds whose fields
// (appendFields) are listed already.
func appendDoc(b []byte, ds string, fields []field) ([]byte, error) {
	b = append(b, `{"event.dataset":`...)
	b = event.AppendString(b, ds)
	for _, f := range fields {
		b = append(b, ',')
		b = event.AppendString(b, f.name)
		b = append(b, ':')
		var err error
		if b, err = event.AppendValue(b, f.v); err != nil {
			return nil, fmt.Errorf("field %s: %w", f.name, err)
		}
	}
	return append(b, '}'), nil
}

// encoded is a batch's events in their stored form, with the fields each
// was encoded from: one walk of each event's map serves its document, its
// column values and its index entries. The documents share one buffer.
type encoded struct {
	docs   [][]byte
	fields [][]field
}

// encodeEvents checks the events and encodes them; err names the event at
// fault.
func encodeEvents(evs []event.Event) (encoded, error) {
	n := 0
	for _, ev := range evs {
		n += len(ev.Fields)
	}
	all := make([]field, 0, n)
	ends := make([]int, len(evs))
	var buf []byte
	for i, ev := range evs {
		if err := checkEvent(ev); err != nil {
			return encoded{}, fmt.Errorf("event %d (id %q): %w", i, ev.ID, err)
		}
		start := len(all)
		all = appendFields(all, ev)
		var err error
		if buf, err = appendDoc(buf, ev.Dataset, all[start:]); err != nil {
			return encoded{}, fmt.Errorf("event %d (id %q): %w", i, ev.ID, err)
		}
		ends[i] = len(buf)
	}
	enc := encoded{docs: make([][]byte, len(evs)), fields: make([][]field, len(evs))}
	start, fstart := 0, 0
	for i, ev := range evs {
		enc.docs[i] = buf[start:ends[i]:ends[i]]
		enc.fields[i] = all[fstart : fstart+len(ev.Fields) : fstart+len(ev.Fields)]
		start, fstart = ends[i], fstart+len(ev.Fields)
	}
	return enc, nil
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
