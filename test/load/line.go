package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"lachan/internal/event"
)

// line is an event template encoded once as its NDJSON line, cut around
// the two values each event has of its own: its time and its ID.
// event.AppendJSON writes `{"@timestamp":"TIME","event.dataset":…,
// "event.id":"ID"` and then the fields, so the line is jsonHead, the
// time, mid, the ID and rest.
type line struct {
	mid, rest []byte
	// id is how its source makes an event's ID (idsSources).
	id idForm
}

// idForm is the form of a source's IDs.
type idForm int

const (
	idMilli  idForm = iota // the event's millisecond, then hash
	idSecond               // the event's whole second, then hash
	idHash                 // all hash
)

// jsonHead opens every event line.
const jsonHead = `{"@timestamp":"`

// newLine encodes ev once and cuts it into a line; it checks the cut
// against the encoding, so that a change of event.AppendJSON's layout is
// an error here rather than malformed batches.
func newLine(ev event.Event) (line, error) {
	ev.ID = event.NewID()
	b, err := ev.AppendJSON(nil)
	if err != nil {
		return line{}, fmt.Errorf("encode %s template: %w", ev.Dataset, err)
	}
	ts := ev.Timestamp.UTC().AppendFormat(nil, time.RFC3339Nano)
	mid := append([]byte(`","event.dataset":`), event.AppendString(nil, ev.Dataset)...)
	mid = append(mid, `,"event.id":"`...)
	want := append(append(append([]byte(jsonHead), ts...), mid...), ev.ID...)
	if !bytes.HasPrefix(b, want) {
		return line{}, fmt.Errorf("encode %s template: the line does not begin %q: %.120q", ev.Dataset, want, b)
	}
	return line{mid: mid, rest: b[len(want):]}, nil
}

// encode makes the lines of every template.
func (t *templates) encode() error {
	for _, k := range []struct {
		evs []event.Event
		out *[]line
		id  idForm
	}{{t.dense, &t.lines.dense, idSecond}, {t.benign, &t.lines.benign, idSecond}, {t.osquery, &t.lines.osquery, idMilli}, {t.yara, &t.lines.yara, idHash}} {
		*k.out = make([]line, len(k.evs))
		for i, ev := range k.evs {
			l, err := newLine(ev)
			if err != nil {
				return err
			}
			l.id = k.id
			(*k.out)[i] = l
		}
	}
	return nil
}

// appendLine appends the line of event n, with the time ts (already in
// the RFC 3339 form AppendJSON writes, of now) and a new ID made with rng
// in the form t.mix.ids gives it, and a newline.
func (t *templates) appendLine(b []byte, n uint64, ts []byte, now time.Time, rng *rand.Rand) []byte {
	l := t.pick(n)
	b = append(b, jsonHead...)
	b = append(b, ts...)
	b = append(b, l.mid...)
	form := l.id
	switch t.mix.ids {
	case idsTimed:
		form = idMilli
	case idsHashed:
		form = idHash
	}
	switch form {
	case idHash:
		b = appendHashedID(b, rng)
	case idSecond:
		b = appendID(b, now.Truncate(time.Second), rng)
	default:
		b = appendID(b, now, rng)
	}
	b = append(b, l.rest...)
	return append(b, '\n')
}

// appendID appends an ID of event.NewID's form (6 bytes of milliseconds,
// then 10 random bytes, in hex), its random part from rng: an agent
// makes an ID for each event, and crypto/rand's per-ID cost is the
// agent's, not the server's.
func appendID(b []byte, now time.Time, rng *rand.Rand) []byte {
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], uint64(now.UnixMilli())<<16)
	binary.LittleEndian.PutUint16(id[6:8], uint16(rng.Uint32()))
	binary.LittleEndian.PutUint64(id[8:], rng.Uint64())
	return hex.AppendEncode(b, id[:])
}

// appendHashedID appends an ID of event.DeriveID's form (16 bytes of
// hash, in hex), random from rng.
func appendHashedID(b []byte, rng *rand.Rand) []byte {
	var id [16]byte
	binary.LittleEndian.PutUint64(id[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(id[8:], rng.Uint64())
	return hex.AppendEncode(b, id[:])
}
