package embedded

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"time"

	"lachan/internal/event"
)

// Namespaces of the key layout (see doc.go). prefixEvent and prefixIndex
// are relative: they follow a partition's prefix (partPrefix).
const (
	prefixPart     = "t/"
	prefixEvent    = "e"
	prefixGen      = "y"
	prefixIndex    = "x"
	prefixID       = "id/"
	prefixEntity   = "en/"
	prefixDead     = "dl/"
	prefixPartMeta = "meta/part/"
	keyLayout      = "meta/layout"
	layoutV1       = "1"
	layoutV2       = "2"
	layoutV3       = "3"
	// layoutV4 is layout 3 whose id/ values may be short (idValueLen):
	// a layout-3 directory is layout 4 as it stands, but a build that
	// reads only layout 3 would miss the events of short values, so the
	// number tells it to refuse the directory.
	layoutV4 = "4"
	// layoutV5 is layout 4 whose tables may hold zstd-compressed blocks
	// (pebbleOptions) and whose posting lists may name their events by
	// rows of their batch's block of sort keys (posting.go): the keys are
	// the same, but a build that reads only layout 4 can read neither, so
	// the number tells it to refuse the directory instead of reporting its
	// tables as damaged or its lists as malformed.
	layoutV5 = "5"
	// layoutV6 is layout 5 in which an event whose ID leads with its own
	// millisecond (timeKeyed) has no id/ entry: its primary key is found
	// from the ID. A build that reads only layout 5 would find neither
	// such an event by its ID nor that it is stored, so the number tells
	// it to refuse the directory. A partition made in layout 6 records it
	// in its meta/part/ value (partMeta), so that retention knows which of
	// its events have no id/ entry to delete.
	layoutV6 = "6"
	// layoutV7 is layout 6 in which an event has no document: its primary
	// key's value locates its row in the column blocks of its batch
	// (rows.go), which hold every value. A build that reads only layout 6
	// would take a locator for a damaged document. Events written before
	// keep their documents and are read by them.
	layoutV7 = "7"
	// layoutV8 is layout 7 in which a batch's lists of an agent.id value
	// leave out the events listed under the same value of host.id
	// (appendPostings), and a query for an agent walks both (indexPlan).
	// A build that reads only layout 7 would miss those events of an
	// agent.
	layoutV8 = "8"
	// layoutCurrent is the layout this build writes.
	layoutCurrent = layoutV8
	// Layout is the key layout this build writes: benchmarks that keep a
	// store between runs name its directory by it, so that a figure is
	// always of data the build wrote itself.
	Layout = layoutCurrent
)

// unitField scopes every query (store.Query.Units).
const unitField = "lachan.unit"

// indexedFields are the fields with a secondary index, in the order the
// planner prefers them when a query names several: the first ones usually
// pick out the fewest events. source.ip and destination.ip had lists too
// until the column blocks: an address is nearly unique to a few events of
// a batch, so their lists cost a key for every one or two events (a
// quarter of the store's bytes), while the blocks answer a term or a CIDR
// on an address from that field's column alone. Lists of them written
// before are left to retention.
var indexedFields = []string{
	hostField, agentField, "rule.id",
	event.FieldDataset, unitField,
}

// The fields an agent's events carry its ID in (pipeline.StampAgent).
const (
	hostField  = "host.id"
	agentField = "agent.id"
)

// datasetIndex is event.dataset's place in indexedFields, agentIndex
// agent.id's.
var (
	datasetIndex = slices.Index(indexedFields, event.FieldDataset)
	agentIndex   = slices.Index(indexedFields, agentField)
)

// indexOf returns the place in indexedFields of a field of Event.Fields,
// or -1 when it has no index. The dataset is not one of Event.Fields,
// whatever the map holds under its name.
func indexOf(name string) int {
	for i, f := range indexedFields {
		if f == name && i != datasetIndex {
			return i
		}
	}
	return -1
}

// Index values beyond maxIndexValue bytes are cut and hashed.
const (
	maxIndexValue = 256
	cutIndexValue = 192
)

// tsLen is the size of an encoded timestamp.
const tsLen = 8

// minTime and maxTime bound what an int64 of nanoseconds can hold.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// putTS writes t's sortable encoding into b[:8]; t must lie within
// [minTime, maxTime].
func putTS(b []byte, t time.Time) {
	binary.BigEndian.PutUint64(b, uint64(t.UnixNano())^(1<<63))
}

// decodeTS reads the timestamp at the start of b.
func decodeTS(b []byte) (time.Time, bool) {
	if len(b) < tsLen {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^(1<<63))).UTC(), true
}

// tsNanos returns the Unix nanoseconds of a sort key decodeTS accepts.
func tsNanos(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// tsID returns <ts><id>, the sort key shared by the primary and index keys.
func tsID(t time.Time, id string) []byte {
	b := make([]byte, tsLen, tsLen+len(id))
	putTS(b, t)
	return append(b, id...)
}

// eventKey returns t/<part>e<ts><id>.
func eventKey(p part, tsid []byte) []byte {
	b := make([]byte, 0, len(prefixPart)+partLen+len(prefixEvent)+len(tsid))
	return append(appendEventPrefix(b, p), tsid...)
}

// appendEventKey appends t/<part>e<ts><id> for an event of time t and ID id
// to b.
func appendEventKey(b []byte, p part, t time.Time, id string) []byte {
	b = appendEventPrefix(b, p)
	b = append(b, make([]byte, tsLen)...)
	putTS(b[len(b)-tsLen:], t)
	return append(b, id...)
}

func appendEventPrefix(b []byte, p part) []byte {
	return append(append(append(b, prefixPart...), p[:]...), prefixEvent...)
}

// idKey returns id/<id>.
func idKey(id string) []byte {
	return append([]byte(prefixID), id...)
}

// timeKeyed reports whether an event of ID id at ts is found by its ID
// without an id/ entry: the ID leads with the millisecond of the event's
// own time (event.DeriveTimedID of that time, event.TimedIDTime), so the
// ID alone names the day of the event's partition and the millisecond its
// primary key lies in (GetEvents), and the primary key itself tells
// whether the event is stored (storedIDs). An ID that is all hash leads
// with a given millisecond about once in 2^48.
func timeKeyed(id string, ts time.Time) bool {
	return wayOf(id, ts) == byPrimary
}

// idWay is how storedIDs tells whether an event's ID is stored.
type idWay int

const (
	byPrimary idWay = iota // timeKeyed: the event's primary key
	bySeek                 // timedID: its id/ key, sought in order
	byGet                  // all hash: its id/ key, looked up alone
)

// wayOf classifies id for an event at ts, reading the time leading the ID
// once.
func wayOf(id string, ts time.Time) idWay {
	ms, ok := event.TimedIDMillis(id)
	if !ok {
		return byGet
	}
	d := ms - ts.UnixMilli()
	switch {
	case d == 0:
		return byPrimary
	case -timedIDWindow.Milliseconds() <= d && d <= timedIDWindow.Milliseconds():
		return bySeek
	}
	return byGet
}

// idValueLen is the length of an id/ entry's value: <part><ts>, the
// event's primary key less what is the same for every event (t/, e) and
// the ID, which the id/ key holds already. Stores written before hold the
// whole primary key, which is always longer (idValueKey).
const idValueLen = partLen + tsLen

// appendIDValue appends the id/ value of an event of partition p whose
// sort key begins with ts (tsLen bytes).
func appendIDValue(b []byte, p part, ts []byte) []byte {
	return append(append(b, p[:]...), ts...)
}

// idValueKey returns the primary key the id/ value v of the event id
// stands for.
func idValueKey(v []byte, id string) []byte {
	if len(v) != idValueLen {
		return v // the whole primary key
	}
	pk := make([]byte, 0, len(prefixPart)+partLen+len(prefixEvent)+tsLen+len(id))
	pk = appendEventPrefix(pk, part(v[:partLen]))
	return append(append(pk, v[partLen:]...), id...)
}

// valuePrefix returns <field>\x00<value>\x00, under which (after a
// generation's prefix, genPrefix) every event with that value sorts by
// (timestamp, ID).
func valuePrefix(field, value string) []byte {
	return appendValuePrefix(make([]byte, 0, len(field)+len(value)+8), field, value)
}

// appendValuePrefix appends valuePrefix(field, value) to b.
func appendValuePrefix(b []byte, field, value string) []byte {
	b = append(b, field...)
	b = append(b, 0)
	b = appendIndexValue(b, value)
	return append(b, 0)
}

// appendIndexValue escapes v so that it holds no NUL, keeping byte order,
// and replaces the tail of a long value with its digest.
func appendIndexValue(b []byte, v string) []byte {
	long := len(v) > maxIndexValue
	s := v
	if long {
		s = v[:cutIndexValue]
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b = append(b, 1, 1)
		case 1:
			b = append(b, 1, 2)
		default:
			b = append(b, c)
		}
	}
	if long {
		// Hex, because a raw digest may hold the NUL that ends the value.
		sum := sha256.Sum256([]byte(v))
		b = append(b, 1, 3)
		b = hex.AppendEncode(b, sum[:])
	}
	return b
}

// entityPrefix returns en/<kind>\x00.
func entityPrefix(kind string) []byte {
	b := make([]byte, 0, len(prefixEntity)+len(kind)+1)
	b = append(b, prefixEntity...)
	b = append(b, kind...)
	return append(b, 0)
}

// entityKey returns en/<kind>\x00<id>.
func entityKey(kind, id string) []byte {
	return append(entityPrefix(kind), id...)
}

// prefixEnd returns the smallest key greater than every key starting with
// p, or nil when there is none.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// indexValues lists the distinct index values of field in e, matching how
// store.Query.Match compares: each string element of a list, or the string
// form of a scalar. A list-valued unit also gets its string form, which is
// what unit scoping compares.
func indexValues(e event.Event, field string) []string {
	v, ok := e.Get(field)
	if !ok {
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		return []string{e.String(field)}
	}
	out := make([]string, 0, len(list)+1)
	if field == unitField {
		out = append(out, e.String(field))
	}
	for _, el := range list {
		s, ok := el.(string)
		if ok && !containsString(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
