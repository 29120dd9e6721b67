package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxLine bounds one exported record.
const MaxLine = 1 << 20

// Reader reads an export: one JSON record a line, blank lines skipped.
type Reader struct {
	br   *bufio.Reader
	line int
}

// NewReader reads records from r.
func NewReader(r io.Reader) *Reader { return &Reader{br: bufio.NewReaderSize(r, 64<<10)} }

// Line is the line number of the record Next returned last.
func (rd *Reader) Line() int { return rd.line }

// Next returns the next record, or io.EOF after the last. Its detail is
// compacted, as it was hashed.
func (rd *Reader) Next() (Record, error) {
	for {
		b, err := rd.readLine()
		if err != nil {
			return Record{}, err
		}
		rd.line++
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		rec, err := parseRecord(b)
		if err != nil {
			return Record{}, &LineError{Line: rd.line, Err: err}
		}
		return rec, nil
	}
}

// readLine returns the next line without its newline, or io.EOF.
func (rd *Reader) readLine() ([]byte, error) {
	var line []byte
	for {
		part, isPrefix, err := rd.br.ReadLine()
		if err != nil {
			if err == io.EOF && line != nil {
				return line, nil
			}
			return nil, err
		}
		line = append(line, part...)
		if len(line) > MaxLine {
			return nil, &LineError{Line: rd.line + 1, Err: fmt.Errorf("longer than %d bytes", MaxLine)}
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// LineError is a line of an export that is not a record.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

func parseRecord(b []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var rec Record
	if err := dec.Decode(&rec); err != nil {
		return Record{}, fmt.Errorf("not an audit record: %w", err)
	}
	if dec.More() {
		return Record{}, errors.New("not an audit record: more after the record")
	}
	if len(rec.Detail) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, rec.Detail); err != nil {
			return Record{}, fmt.Errorf("detail: %w", err)
		}
		rec.Detail = buf.Bytes()
		if string(rec.Detail) == "null" {
			rec.Detail = nil
		}
	}
	return rec, nil
}

// Why a record breaks the chain.
const (
	// Changed: the record's content is not what its hash (or the next
	// record's previous hash) says.
	Changed = "changed"
	// Removed: sequence numbers are missing.
	Removed = "removed"
	// Swapped: records are out of order.
	Swapped = "swapped"
	// BadSignature: a checkpoint's signature does not verify with the key.
	BadSignature = "signature bad"
	// Malformed: a line is not a record.
	Malformed = "malformed"
)

// Broken names the first record where the chain breaks.
type Broken struct {
	Seq    uint64
	Line   int
	Reason string
	Detail string
}

func (b *Broken) Error() string {
	return fmt.Sprintf("audit record %d (line %d): %s: %s", b.Seq, b.Line, b.Reason, b.Detail)
}

// Summary describes an intact trail.
type Summary struct {
	Records     int    `json:"records"`
	Checkpoints int    `json:"checkpoints"`
	Last        uint64 `json:"last_seq"`
	LastHash    string `json:"last_hash"`
	// LastCheckpoint is the sequence number of the last checkpoint and
	// CheckpointTime its time; Unsigned counts the records after it, which
	// no signature covers yet.
	LastCheckpoint uint64    `json:"last_checkpoint"`
	CheckpointTime time.Time `json:"checkpoint_time,omitzero"`
	Unsigned       int       `json:"unsigned"`
}

// Verify reads an export from the first record and checks that every
// record hashes to its hash and follows the one before, with no sequence
// number missing or out of place, and that every checkpoint's signature
// verifies with pub (nil skips the signatures). It returns a *Broken
// naming the first record that fails, or another error when r fails.
func Verify(r io.Reader, pub ed25519.PublicKey) (Summary, error) {
	rd := NewReader(r)
	var sum Summary
	expect, prev := uint64(1), Genesis
	rec, err := rd.Next()
	for err == nil {
		line := rd.Line()
		if rec.Seq != expect {
			return sum, outOfPlace(rd, rec, expect, line)
		}
		if rec.Sum() != rec.Hash {
			return sum, &Broken{rec.Seq, line, Changed, "its content does not hash to its hash"}
		}
		if rec.Prev != prev {
			return sum, &Broken{rec.Seq - 1, line - 1, Changed, fmt.Sprintf("record %d holds another hash for it (%.12s…, not %.12s…)", rec.Seq, rec.Prev, prev)}
		}
		if rec.Action == ActionCheckpoint {
			if err := checkSig(rec, pub); err != nil {
				return sum, &Broken{rec.Seq, line, BadSignature, err.Error()}
			}
			sum.Checkpoints++
			sum.LastCheckpoint, sum.CheckpointTime, sum.Unsigned = rec.Seq, rec.Time, -1
		}
		sum.Records++
		sum.Unsigned++
		sum.Last, sum.LastHash = rec.Seq, rec.Hash
		prev, expect = rec.Hash, expect+1
		rec, err = rd.Next()
	}
	if errors.Is(err, io.EOF) {
		return sum, nil
	}
	var le *LineError
	if errors.As(err, &le) {
		return sum, &Broken{expect, le.Line, Malformed, le.Err.Error()}
	}
	return sum, err
}

// outOfPlace explains a record whose sequence number is not the one
// expected: records out of order when the expected one comes later in the
// stream (which is read to its end to tell), else records removed.
func outOfPlace(rd *Reader, rec Record, expect uint64, line int) error {
	if rec.Seq < expect {
		return &Broken{rec.Seq, line, Swapped, fmt.Sprintf("it comes after record %d", expect-1)}
	}
	before := rec.Seq
	for {
		next, err := rd.Next()
		var le *LineError
		if errors.As(err, &le) {
			continue
		}
		if err != nil {
			break
		}
		if next.Seq == expect {
			return &Broken{expect, rd.Line(), Swapped, fmt.Sprintf("it comes after record %d", before)}
		}
		before = next.Seq
	}
	if rec.Seq == expect+1 {
		return &Broken{expect, line, Removed, fmt.Sprintf("sequence gap: record %d is followed by %d", expect-1, rec.Seq)}
	}
	return &Broken{expect, line, Removed, fmt.Sprintf("sequence gap: records %d to %d are missing", expect, rec.Seq-1)}
}

func checkSig(rec Record, pub ed25519.PublicKey) error {
	if pub == nil {
		return nil
	}
	sig, err := base64.StdEncoding.DecodeString(rec.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("checkpoint without a well-formed signature")
	}
	if !ed25519.Verify(pub, CheckpointMessage(rec.Seq, rec.Hash, rec.Time), sig) {
		return errors.New("checkpoint signature does not verify with the audit key")
	}
	return nil
}
