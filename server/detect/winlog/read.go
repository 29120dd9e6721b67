package winlog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"lachan/internal/event"
	"lachan/internal/winevent"
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
func ReadJSON(r io.Reader, h Handler) error { return readJSON(r, h, false) }

// ReadJSONBrief reads as ReadJSON does, for a handler that looks at each
// event once and keeps few, except that a Windows record in the nested
// form may come without its ID (ev.ID is ""), which costs a hash of the
// whole record, and with values that refer to the reader's buffer and
// boxes, which saves a copy of the record and an allocation a value, in a
// map the next such record reuses: all of them hold only until the
// handler returns. A handler gives the ID, with EventID, to the events it
// keeps, and copies what of them it keeps past its return, values and all
// (event.Event.Clone copies the map, whose values still refer to the
// reader's).
func ReadJSONBrief(r io.Reader, h Handler) error { return readJSON(r, h, true) }

// EventID is the ID ReadJSON gives the Windows event ev that ReadJSONBrief
// gave without one; ev must hold only the fields it came with.
func EventID(ev event.Event) string { return winevent.EventID(ev) }

func readJSON(r io.Reader, h Handler, brief bool) error {
	s := objectStream{r: r, buf: make([]byte, 0, 64<<10)}
	f := flattener{brief: brief}
	n := 1
	for ; ; n++ {
		off := s.offset()
		obj, raw, rec, ok := s.next(&f)
		if !ok {
			break
		}
		ev, err := rec.ev, rec.err
		if !rec.flat {
			ev, err = decodeParsed(obj, raw)
		}
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

// ReadEVTX reads a Windows .evtx file: each record's binary XML becomes
// the element tree EvtRender's XML would give (values as Windows renders
// their types) and goes through the agent's mapping (winevent.FromElement).
// A chunk whose checksums do not match is reported through h and skipped,
// and so is a record that cannot be read; the others still come. Errors
// name the chunk and the byte offset in the file.
func ReadEVTX(r io.Reader, h Handler) error {
	return ReadEVTXElements(r, func(root *winevent.Element, where string, err error) error {
		if err != nil {
			return h(event.Event{}, err)
		}
		ev, err := winevent.FromElement(root)
		if err != nil {
			return h(event.Event{}, fmt.Errorf("%s: %w", where, err))
		}
		return h(ev, nil)
	})
}

// ElementHandler receives each record of an .evtx file as its <Event>
// element and where it is (chunk, record ID, byte offset in the file), or
// an error about a record or a chunk, which names where. The element is
// the handler's to keep.
type ElementHandler func(root *winevent.Element, where string, err error) error

// ReadEVTXElements reads an .evtx file as ReadEVTX does, giving each
// record's element tree rather than its event.
func ReadEVTXElements(r io.Reader, h ElementHandler) error {
	head := make([]byte, fileHeaderSize)
	if _, err := io.ReadFull(r, head); err != nil {
		return fmt.Errorf("evtx: file header: %w", err)
	}
	if string(head[:8]) != fileMagic {
		return errors.New("evtx: not an .evtx file (no ElfFile signature)")
	}
	chunk := make([]byte, chunkSize)
	var b binXML
	for ci := 0; ; ci++ {
		off := int64(fileHeaderSize) + int64(ci)*chunkSize
		n, err := io.ReadFull(r, chunk)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			return h(nil, "", fmt.Errorf("evtx chunk %d (offset %d): %d bytes, the file ends inside it; skipped", ci, off, n))
		case err != nil:
			return fmt.Errorf("evtx chunk %d (offset %d): %w", ci, off, err)
		}
		if string(chunk[:8]) != chunkMagic {
			if allZero(chunk) {
				continue // never used
			}
			err = errors.New("no ElfChnk signature")
		} else {
			err = checkChunk(chunk)
		}
		if err != nil {
			if herr := h(nil, "", fmt.Errorf("evtx chunk %d (offset %d): %w; skipped", ci, off, err)); herr != nil {
				return herr
			}
			continue
		}
		b.chunk = chunk
		if err := readChunk(&b, ci, off, h); err != nil {
			return err
		}
	}
}

// readChunk gives the records of a chunk whose checksums match.
func readChunk(b *binXML, ci int, base int64, h ElementHandler) error {
	chunk := b.chunk
	free := int(binary.LittleEndian.Uint32(chunk[offFreeSpace:]))
	for pos := chunkHeaderSize; pos+recordHeaderSize <= free; {
		size := int(binary.LittleEndian.Uint32(chunk[pos+4:]))
		id := binary.LittleEndian.Uint64(chunk[pos+8:])
		where := fmt.Sprintf("evtx chunk %d, record %d (offset %d)", ci, id, base+int64(pos))
		if binary.LittleEndian.Uint32(chunk[pos:]) != recordMagic || size < recordHeaderSize+4 || size > free-pos ||
			binary.LittleEndian.Uint32(chunk[pos+size-4:]) != uint32(size) {
			// The records checksum matched, so the chunk is as written;
			// nothing after a record that does not parse can be found.
			return h(nil, "", fmt.Errorf("%s: no record header of a valid size; rest of the chunk skipped", where))
		}
		root, err := b.record(pos+recordHeaderSize, pos+size-4)
		if err != nil {
			root, err = nil, fmt.Errorf("%s: %w", where, err)
		}
		if herr := h(root, where, err); herr != nil {
			return herr
		}
		pos += size
	}
	return nil
}

func allZero(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}
