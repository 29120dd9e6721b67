package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"lachan/internal/event"
	"lachan/internal/wire"
)

// maxLine caps one event's JSON.
const maxLine = 1 << 20

// readBatch decodes an ingest body: NDJSON, optionally gzip, within the
// size and count limits. It decodes the whole batch before anything is
// stored, so a bad line refuses the batch and stores nothing.
func readBatch(w http.ResponseWriter, r *http.Request) ([]event.Event, error) {
	return readBatchChecked(w, r, nil)
}

// readBatchChecked is readBatch with check run on each event as it is
// decoded; its error refuses the batch, naming the line.
func readBatchChecked(w http.ResponseWriter, r *http.Request, check func(event.Event) *wire.Error) ([]event.Event, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != wire.ContentTypeNDJSON && mt != "application/json" {
			return nil, clientError(http.StatusUnsupportedMediaType, "content type must be "+wire.ContentTypeNDJSON)
		}
	}
	body := http.MaxBytesReader(w, r.Body, wire.MaxIngestBodyBytes)
	var rd io.Reader = body
	switch r.Header.Get("Content-Encoding") {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, bodyError(err, "gzip")
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, clientError(http.StatusUnsupportedMediaType, "content encoding must be gzip or none")
	}
	raw, err := io.ReadAll(io.LimitReader(rd, wire.MaxIngestDecodedBytes+1))
	if err != nil {
		return nil, bodyError(err, "body")
	}
	if len(raw) > wire.MaxIngestDecodedBytes {
		return nil, clientError(http.StatusRequestEntityTooLarge, fmt.Sprintf("batch larger than %d bytes decoded", wire.MaxIngestDecodedBytes))
	}
	evs, err := decodeBatch(raw, check)
	if err != nil {
		return nil, err
	}
	return evs, nil
}

func bodyError(err error, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return clientError(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
	}
	return clientError(http.StatusBadRequest, fmt.Sprintf("unreadable %s: %v", what, err))
}

// DecodeBatch parses NDJSON events; an error names the line and field.
func DecodeBatch(raw []byte) ([]event.Event, error) { return decodeBatch(raw, nil) }

func decodeBatch(raw []byte, check func(event.Event) *wire.Error) ([]event.Event, error) {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var evs []event.Event
	// One decoder a batch: an agent's events repeat their field names
	// and many values, which it shares among them.
	dec := event.NewDecoder()
	seen := map[string]bool{}
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if len(evs) == wire.MaxIngestEvents {
			return nil, clientError(http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d events in one batch", wire.MaxIngestEvents))
		}
		ev, err := dec.Decode(b)
		if err != nil {
			var fe *event.FieldError
			be := &badRequest{code: http.StatusBadRequest, body: wire.Error{Error: fmt.Sprintf("line %d: %v", line, err), Line: line}}
			if errors.As(err, &fe) {
				be.body.Field = fe.Field
			}
			return nil, be
		}
		if check != nil {
			if e := check(ev); e != nil {
				e.Error = fmt.Sprintf("line %d: %s", line, e.Error)
				e.Line = line
				return nil, &badRequest{code: http.StatusBadRequest, body: *e}
			}
		}
		if seen[ev.ID] {
			continue // the same event twice in one batch is stored once
		}
		seen[ev.ID] = true
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, clientError(http.StatusBadRequest, fmt.Sprintf("line %d: %v", line+1, err))
	}
	if len(evs) == 0 {
		return nil, clientError(http.StatusBadRequest, "empty batch")
	}
	return evs, nil
}
