package winlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"www.velocidex.com/golang/evtx"

	"lachan/internal/event"
)

// Handler receives each record read: an event, or an error about that one
// record (err names the record and where it was). Returning an error stops
// the reading and is returned by the reader.
type Handler func(ev event.Event, err error) error

// ReadJSON reads a stream of JSON values: objects one after another (JSON
// lines, or pretty-printed objects concatenated) or arrays of them. Each
// object is an event of the platform's own form (it has "event.dataset") or
// a Windows event, nested or flat. A syntax error ends the stream, since
// nothing after it can be trusted to line up.
func ReadJSON(r io.Reader, h Handler) error {
	s := objectStream{r: r, buf: make([]byte, 0, 64<<10)}
	n := 1
	for ; ; n++ {
		off := s.offset()
		obj, raw, ok := s.next()
		if !ok {
			break
		}
		ev, err := decodeParsed(obj, raw)
		if err != nil {
			err = fmt.Errorf("JSON value %d (byte %d): %w", n, off, err)
		}
		if err := h(ev, err); err != nil {
			return err
		}
	}
	if s.done() {
		return nil
	}
	// Arrays, malformed input and read errors: encoding/json reads the
	// rest and words the errors.
	rest := io.MultiReader(bytes.NewReader(s.buf[s.pos:]), s.tail())
	return readJSONValues(rest, s.offset(), n, h)
}

// readJSONValues reads JSON values through encoding/json, the first
// numbered n, at byte base of the stream.
func readJSONValues(r io.Reader, base int64, n int, h Handler) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	for ; ; n++ {
		off := base + dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("JSON value %d (byte %d): %w", n, off, err)
		}
		items := []json.RawMessage{raw}
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
			items = nil
			if err := json.Unmarshal(raw, &items); err != nil {
				return fmt.Errorf("JSON value %d (byte %d): %w", n, off, err)
			}
		}
		for i, item := range items {
			ev, err := decodeObject(item)
			if err != nil {
				where := fmt.Sprintf("JSON value %d (byte %d)", n, off)
				if len(items) > 1 || raw[0] == '[' {
					where += fmt.Sprintf(", element %d", i+1)
				}
				err = fmt.Errorf("%s: %w", where, err)
			}
			if err := h(ev, err); err != nil {
				return err
			}
		}
	}
}

func decodeObject(raw json.RawMessage) (event.Event, error) {
	obj, ok := parseObject(raw)
	if !ok {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return event.Event{}, fmt.Errorf("not a JSON object")
		}
	}
	return decodeParsed(obj, raw)
}

// decodeParsed makes an event of the decoded object obj, whose JSON is raw.
func decodeParsed(obj map[string]any, raw []byte) (event.Event, error) {
	if _, ok := obj[event.FieldDataset]; ok {
		var ev event.Event
		err := ev.UnmarshalJSON(raw)
		return ev, err
	}
	if !IsWindowsEvent(obj) {
		return event.Event{}, fmt.Errorf("neither a platform event (no %q) nor a Windows event (no Event.System, or EventID and Channel)", event.FieldDataset)
	}
	return Convert(obj)
}

// ReadEVTX reads a Windows .evtx file. A chunk whose checksums do not
// match, or that cannot be parsed, is reported through h and skipped; the
// records of the others still come. The evtx library believes the counts
// inside a chunk, so a file crafted to pass the checksums can still make it
// allocate without bound: read files from the operator's own systems, not
// from untrusted senders.
func ReadEVTX(r io.ReadSeeker, h Handler) (err error) {
	defer func() {
		// The evtx library parses binary input with slicing that can panic
		// on a damaged file; that must become an error.
		if p := recover(); p != nil {
			err = fmt.Errorf("evtx: damaged file: %v", p)
		}
	}()
	chunks, err := evtx.GetChunks(r)
	if err != nil {
		return fmt.Errorf("evtx: %w", err)
	}
	for ci, c := range chunks {
		if err := checkChunk(r, c.Offset); err != nil {
			if herr := h(event.Event{}, fmt.Errorf("evtx chunk %d (offset %d): %w; skipped", ci, c.Offset, err)); herr != nil {
				return herr
			}
			continue
		}
		records, err := c.Parse(0)
		if err != nil {
			if herr := h(event.Event{}, fmt.Errorf("evtx chunk %d (offset %d): %w", ci, c.Offset, err)); herr != nil {
				return herr
			}
			continue
		}
		for _, rec := range records {
			ev, err := recordEvent(rec)
			if err != nil {
				err = fmt.Errorf("evtx record %d: %w", rec.Header.RecordID, err)
			}
			if herr := h(ev, err); herr != nil {
				return herr
			}
		}
	}
	return nil
}

// recordEvent converts one record through JSON, the form Convert reads;
// the library's ordered map marshals to it directly.
func recordEvent(rec *evtx.EventRecord) (event.Event, error) {
	b, err := json.Marshal(rec.Event)
	if err != nil {
		return event.Event{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return event.Event{}, fmt.Errorf("record is not an object")
	}
	if !IsWindowsEvent(obj) {
		return event.Event{}, fmt.Errorf("record has no Event.System")
	}
	return Convert(obj)
}
