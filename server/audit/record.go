package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// Genesis is the previous hash of the first record.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// ActionCheckpoint is the action of a signed checkpoint record.
const ActionCheckpoint = "audit.checkpoint"

// Outcomes of an action.
const (
	OutcomeSuccess = "ok"
	OutcomeFailure = "failed"
	OutcomeDenied  = "denied"
	// OutcomeThrottled: refused for coming too often.
	OutcomeThrottled = "throttled"
)

// Entry is what a caller records: who (actor and role) did what (action)
// to which object, from where (source address), how it ended (outcome),
// and whatever else helps to read it later (detail, JSON-encodable).
type Entry struct {
	Actor   string
	Role    string
	Action  string
	Object  string
	Outcome string
	Source  string
	Detail  map[string]any
}

// Record is one link of the chain, as stored and exported.
type Record struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Role    string    `json:"role,omitempty"`
	Action  string    `json:"action"`
	Object  string    `json:"object,omitempty"`
	Outcome string    `json:"outcome,omitempty"`
	Source  string    `json:"source,omitempty"`
	// Detail is the entry's detail as compact JSON, hashed as it stands.
	Detail json.RawMessage `json:"detail,omitempty"`
	// Prev is the hash of the record before (Genesis for the first).
	Prev string `json:"prev"`
	// Hash is the hex SHA-256 of every field above (Record.Sum).
	Hash string `json:"hash"`
	// Sig, on checkpoints only, is the base64 Ed25519 signature of
	// CheckpointMessage; it is not part of the hash.
	Sig string `json:"sig,omitempty"`
}

// newRecord builds the record that follows prev.
func newRecord(seq uint64, prev string, at time.Time, e Entry) (Record, error) {
	r := Record{
		Seq: seq, Time: at.UTC(), Prev: prev,
		Actor: clean(e.Actor), Role: clean(e.Role), Action: clean(e.Action), Object: clean(e.Object),
		Outcome: clean(e.Outcome), Source: clean(e.Source),
	}
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return Record{}, fmt.Errorf("audit %s %s: detail: %w", r.Action, r.Object, err)
		}
		r.Detail = b
	}
	r.Hash = r.Sum()
	return r, nil
}

// clean makes a string survive JSON unchanged, so that a record hashes
// the same after export.
func clean(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// Sum is the hex SHA-256 of the record's canonical encoding: a version
// tag, then every field but Hash and Sig, each as a big-endian 8-byte
// length and its bytes (the sequence number and the time in Unix
// nanoseconds as decimal text; the detail compacted).
func (r Record) Sum() string {
	h := sha256.New()
	field(h, "lachan-audit-v1")
	field(h, strconv.FormatUint(r.Seq, 10))
	field(h, strconv.FormatInt(r.Time.UnixNano(), 10))
	for _, s := range []string{r.Actor, r.Role, r.Action, r.Object, r.Outcome, r.Source} {
		field(h, s)
	}
	field(h, string(r.Detail))
	field(h, r.Prev)
	return hex.EncodeToString(h.Sum(nil))
}

func field(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// CheckpointMessage is what a checkpoint's signature covers: its
// sequence number, its hash (which covers the whole chain before it) and
// its time.
func CheckpointMessage(seq uint64, hash string, at time.Time) []byte {
	return fmt.Appendf(nil, "lachan-audit-checkpoint-v1\n%d\n%s\n%d", seq, hash, at.UnixNano())
}

// sign fills the checkpoint's signature.
func (r *Record) sign(key ed25519.PrivateKey) {
	r.Sig = encodeSig(ed25519.Sign(key, CheckpointMessage(r.Seq, r.Hash, r.Time)))
}

// head is the stored head of the chain.
type head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// recordID orders records by sequence number in ListEntities.
func recordID(seq uint64) string { return fmt.Sprintf("%020d", seq) }
