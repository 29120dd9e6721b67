package embedded

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
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

// encoded is a batch's events checked and listed for their column blocks:
// one walk of each event's map serves its column values and its index
// entries. Layout 7 writes no document: the values a column cannot type
// are encoded here (field.raw), into one buffer, so that an event that
// cannot be written fails before anything is. An encoded comes from
// encodings and goes back there (release) once its batch is applied.
type encoded struct {
	fields [][]field
	// layout is each event's set of names, from lay.
	layout []*layout
	lay    layouts
	buf    []byte
	all    []field
}

// encodings keeps the memory of encoded batches: writers encode outside
// the write lock, so each takes its own.
var encodings = sync.Pool{New: func() any { return new(encoded) }}

// encodeEvents checks the events as checkEvent does and encodes them; err
// names the event at fault.
func encodeEvents(evs []event.Event) (*encoded, error) {
	enc := encodings.Get().(*encoded)
	n := 0
	for _, ev := range evs {
		n += len(ev.Fields)
	}
	all := slices.Grow(enc.all[:0], n)
	buf := enc.buf[:0]
	enc.layout = slices.Grow(enc.layout[:0], len(evs))
	for i, ev := range evs {
		err := checkHead(ev)
		if err == nil {
			start := len(all)
			var l *layout
			all, l = enc.lay.appendFields(all, ev)
			enc.layout = append(enc.layout, l)
			if err = l.checkValues(all[start:]); err == nil {
				buf, err = appendRaw(buf, all[start:])
			}
		}
		if err != nil {
			enc.buf, enc.all = buf, all
			enc.release()
			return nil, fmt.Errorf("event %d (id %q): %w", i, ev.ID, err)
		}
	}
	enc.buf, enc.all = buf, all
	enc.fields = slices.Grow(enc.fields[:0], len(evs))
	fstart := 0
	for _, ev := range evs {
		fend := fstart + len(ev.Fields)
		enc.fields = append(enc.fields, all[fstart:fend:fend])
		fstart = fend
	}
	return enc, nil
}

// appendRaw appends the JSON of each of fields' values that a column
// cannot type (opaque) to b, and points the field's raw at it. A later
// append may move b, but what raw points at stays as written.
func appendRaw(b []byte, fields []field) ([]byte, error) {
	for i := range fields {
		f := &fields[i]
		if !opaque(f.v) {
			continue
		}
		start := len(b)
		var err error
		if b, err = event.AppendValue(b, f.v); err != nil {
			return nil, fmt.Errorf("field %s: %w", f.name, err)
		}
		f.raw = b[start:len(b):len(b)]
	}
	return b, nil
}

// encodedKept bounds the documents' buffer an encoded keeps for the next
// batch.
const encodedKept = 8 << 20

// release returns enc to encodings; nothing it held may be used after.
func (enc *encoded) release() {
	// The fields refer to the caller's events' values.
	clear(enc.all)
	clear(enc.fields)
	clear(enc.layout)
	if cap(enc.buf) > encodedKept {
		*enc = encoded{}
	}
	encodings.Put(enc)
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
