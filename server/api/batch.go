package api

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"

	"github.com/klauspost/compress/gzip"

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
		// The compressed body is read whole first: the decompressor
		// reads a bytes.Reader by its fast path, where anything else it
		// reads through a bufio.Reader a byte at a time.
		zbuf := bodyBuffers.Get().(*[]byte)
		defer putBodyBuffer(zbuf)
		zb, err := readAll((*zbuf)[:0], body)
		*zbuf = zb
		if err != nil {
			return nil, bodyError(err, "body")
		}
		zr, err := gzipReader(bytes.NewReader(zb))
		if err != nil {
			return nil, bodyError(err, "gzip")
		}
		defer gzipReaders.Put(zr)
		rd = zr
	default:
		return nil, clientError(http.StatusUnsupportedMediaType, "content encoding must be gzip or none")
	}
	buf := bodyBuffers.Get().(*[]byte)
	defer putBodyBuffer(buf)
	raw, err := readAll((*buf)[:0], io.LimitReader(rd, wire.MaxIngestDecodedBytes+1))
	*buf = raw
	if err != nil {
		return nil, bodyError(err, "body")
	}
	if len(raw) > wire.MaxIngestDecodedBytes {
		return nil, clientError(http.StatusRequestEntityTooLarge, fmt.Sprintf("batch larger than %d bytes decoded", wire.MaxIngestDecodedBytes))
	}
	// The events decoded never refer to raw (event.Decoder), so its
	// buffer goes back to the pool when this returns.
	return decodeBatch(raw, check)
}

// Every ingest body is read whole into a buffer and decompressed with a
// gzip reader; both are kept for the next body rather than made and
// collected per batch (a decompressor's state is tens of kilobytes, and
// a batch of 100 Windows events a hundred kilobytes decoded).
var (
	bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}
	gzipReaders sync.Pool
)

// maxPooledBody is the largest body buffer kept for the next body: a
// shipment of the agent's largest batch (1,000 events) fits, and a rare
// larger import does not hold its memory after it.
const maxPooledBody = 4 << 20

func putBodyBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBody {
		bodyBuffers.Put(b)
	}
}

// gzipReader returns a pooled gzip reader reading from r; the caller puts
// it back in gzipReaders when done with it.
func gzipReader(r io.Reader) (*gzip.Reader, error) {
	if zr, ok := gzipReaders.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			gzipReaders.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(r)
}

// readAll appends what r holds to b, as io.ReadAll does into a new slice.
func readAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
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
	var evs []event.Event
	// One decoder a batch: an agent's events repeat their field names
	// and many values, which it shares among them.
	dec := event.NewDecoder()
	seen := map[string]bool{}
	line := 0
	// Lines are cut out of raw in place, as bufio.Scanner's ScanLines
	// cuts them but without copying each through a buffer of its own.
	for rest := raw; len(rest) > 0; {
		line++
		b := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			b, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if len(b) >= maxLine {
			return nil, clientError(http.StatusBadRequest, fmt.Sprintf("line %d: %v", line, bufio.ErrTooLong))
		}
		b = bytes.TrimSpace(b)
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
	if len(evs) == 0 {
		return nil, clientError(http.StatusBadRequest, "empty batch")
	}
	return evs, nil
}
