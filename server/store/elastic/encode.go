package elastic

import (
	"fmt"
	"strconv"
	"time"

	"lachan/internal/event"
	"lachan/server/store"
)

// encoder writes bulk NDJSON.
type encoder struct {
	names names
}

// appendCreate appends the two bulk lines that create ev in its data
// stream with _id = ev.ID. IDs passed event.Validate, whose alphabet
// needs no JSON escaping.
func (enc *encoder) appendCreate(buf []byte, ev event.Event) ([]byte, error) {
	buf = append(buf, `{"create":{"_index":"`...)
	buf = append(buf, enc.names.stream(store.DataKindOf(ev.Dataset))...)
	buf = append(buf, `","_id":"`...)
	buf = append(buf, ev.ID...)
	buf = append(buf, "\"}}\n"...)
	return enc.appendDoc(buf, ev)
}

// appendDoc appends ev's document and a newline: the event's flat JSON
// plus fieldTS.
func (enc *encoder) appendDoc(buf []byte, ev event.Event) ([]byte, error) {
	start := len(buf)
	buf = append(buf, `{"@timestamp":"`...)
	buf = ev.Timestamp.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","event.dataset":`...)
	buf = event.AppendString(buf, ev.Dataset)
	buf = append(buf, `,"event.id":`...)
	buf = event.AppendString(buf, ev.ID)
	// Fields go in map order: Elasticsearch does not care, and sorting
	// was a quarter of the encoding cost.
	var err error
	for k, v := range ev.Fields {
		buf = append(buf, ',')
		buf = event.AppendString(buf, k)
		buf = append(buf, ':')
		if buf, err = event.AppendValue(buf, v); err != nil {
			return buf[:start], fmt.Errorf("event %s field %s: %w", ev.ID, k, err)
		}
	}
	buf = append(buf, `,"`+fieldTS+`":`...)
	buf = strconv.AppendInt(buf, ev.Timestamp.UnixNano(), 10)
	return append(buf, "}\n"...), nil
}

// decodeDoc reads an event document back: the event's JSON with fieldTS
// removed.
func decodeDoc(src []byte) (event.Event, error) {
	var ev event.Event
	if err := ev.UnmarshalJSON(src); err != nil {
		return event.Event{}, err
	}
	delete(ev.Fields, fieldTS)
	return ev, nil
}
