package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"lachan/server/store"
)

// Entity kinds of the trail: one per record, ID its zero-padded sequence
// number, and the head.
const (
	KindRecord = "audit-record"
	KindHead   = "audit-head"
	headID     = "head"
)

// maxAttempts bounds the tries of one append; each failed try means
// another writer appended.
const maxAttempts = 1000

// Checkpoint actor and role: the server itself.
const (
	ActorServer = "lachan-server"
	RoleSystem  = "system"
)

// Trail appends to the chain and reads it back. It is safe for concurrent
// use, and several Trails (one per server replica) may share one store.
type Trail struct {
	st  store.Store
	key ed25519.PrivateKey
	now func() time.Time
	// mu serialises this process's appends, so that its goroutines do not
	// race each other for the same sequence number; other replicas are
	// kept in line by the store's conditional writes.
	mu sync.Mutex
}

// Open returns a trail over st that signs checkpoints with key, and moves
// the head over any record a writer left past it when it stopped. now is
// the clock (time.Now when nil).
func Open(ctx context.Context, st store.Store, key ed25519.PrivateKey, now func() time.Time) (*Trail, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("audit trail: no Ed25519 signing key")
	}
	if now == nil {
		now = time.Now
	}
	t := &Trail{st: st, key: key, now: now}
	if _, _, err := t.advance(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// PublicKey is the key checkpoints verify with.
func (t *Trail) PublicKey() ed25519.PublicKey { return t.key.Public().(ed25519.PublicKey) }

// Record appends an entry.
func (t *Trail) Record(ctx context.Context, e Entry) error {
	_, err := t.append(ctx, e, false)
	return err
}

// Checkpoint appends a checkpoint: a record whose hash, covering the whole
// chain before it, is signed with the trail's key.
func (t *Trail) Checkpoint(ctx context.Context) (Record, error) {
	return t.append(ctx, Entry{Actor: ActorServer, Role: RoleSystem, Action: ActionCheckpoint, Outcome: OutcomeSuccess}, true)
}

// append writes the record that follows the head: first the record under
// its sequence number, create-only, then the head, conditionally. A
// sequence number already taken means another writer got there first: the
// head is moved over its record and the entry tried again.
func (t *Trail) append(ctx context.Context, e Entry, checkpoint bool) (Record, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		if attempt == maxAttempts {
			return Record{}, fmt.Errorf("audit %s %s: other writers took %d sequence numbers in a row: %w", e.Action, e.Object, maxAttempts, store.ErrConflict)
		}
		h, ver, err := t.advance(ctx)
		if err != nil {
			return Record{}, err
		}
		rec, err := newRecord(h.Seq+1, h.Hash, t.now(), e)
		if err != nil {
			return Record{}, err
		}
		if checkpoint {
			rec.sign(t.key)
		}
		doc, err := json.Marshal(rec)
		if err != nil {
			return Record{}, fmt.Errorf("audit record %d: %w", rec.Seq, err)
		}
		_, err = t.st.PutEntity(ctx, KindRecord, recordID(rec.Seq), doc, 0)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return Record{}, fmt.Errorf("audit record %d: %w", rec.Seq, err)
		}
		// The record is in the chain from here on, whoever moves the head.
		if err := t.putHead(ctx, head{Seq: rec.Seq, Hash: rec.Hash}, ver); err != nil && !errors.Is(err, store.ErrConflict) {
			return Record{}, err
		}
		return rec, nil
	}
}

// advance reads the head and moves it over the records that exist past
// it, returning the head and its version.
func (t *Trail) advance(ctx context.Context) (head, uint64, error) {
	for {
		h, ver, err := t.readHead(ctx)
		if err != nil {
			return head{}, 0, err
		}
		next, err := t.get(ctx, h.Seq+1)
		if errors.Is(err, store.ErrNotFound) {
			return h, ver, nil
		}
		if err != nil {
			return head{}, 0, err
		}
		if next.Prev != h.Hash || next.Sum() != next.Hash {
			return head{}, 0, fmt.Errorf("audit record %d does not follow the head (%d %s): the trail in the store was changed", next.Seq, h.Seq, h.Hash)
		}
		err = t.putHead(ctx, head{Seq: next.Seq, Hash: next.Hash}, ver)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return head{}, 0, err
		}
	}
}

func (t *Trail) readHead(ctx context.Context) (head, uint64, error) {
	doc, ver, err := t.st.GetEntity(ctx, KindHead, headID)
	if errors.Is(err, store.ErrNotFound) {
		return head{Hash: Genesis}, 0, nil
	}
	if err != nil {
		return head{}, 0, fmt.Errorf("audit head: %w", err)
	}
	var h head
	if err := json.Unmarshal(doc, &h); err != nil {
		return head{}, 0, fmt.Errorf("audit head: stored document: %w", err)
	}
	return h, ver, nil
}

func (t *Trail) putHead(ctx context.Context, h head, ver uint64) error {
	doc, _ := json.Marshal(h)
	if _, err := t.st.PutEntity(ctx, KindHead, headID, doc, ver); err != nil {
		return fmt.Errorf("audit head %d: %w", h.Seq, err)
	}
	return nil
}

// get reads one record.
func (t *Trail) get(ctx context.Context, seq uint64) (Record, error) {
	doc, _, err := t.st.GetEntity(ctx, KindRecord, recordID(seq))
	if err != nil {
		return Record{}, fmt.Errorf("audit record %d: %w", seq, err)
	}
	var r Record
	if err := json.Unmarshal(doc, &r); err != nil {
		return Record{}, fmt.Errorf("audit record %d: stored document: %w", seq, err)
	}
	return r, nil
}

// Head returns the sequence number and hash of the last record (0 and
// Genesis for an empty trail).
func (t *Trail) Head(ctx context.Context) (uint64, string, error) {
	h, _, err := t.readHead(ctx)
	return h.Seq, h.Hash, err
}

// Scan calls fn with every record after seq after, up to the head as it
// was when Scan began, in order, until fn returns an error (which Scan
// returns). A record past the head is left for the next writer to take
// in.
func (t *Trail) Scan(ctx context.Context, after uint64, fn func(Record) error) error {
	h, _, err := t.readHead(ctx)
	if err != nil {
		return err
	}
	return t.ScanTo(ctx, after, h.Seq, fn)
}

// ScanTo is Scan up to record last, which must be at or before the head.
func (t *Trail) ScanTo(ctx context.Context, after, last uint64, fn func(Record) error) error {
	for seq := after + 1; seq <= last; seq++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := t.get(ctx, seq)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func encodeSig(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
