package winlog

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"lachan/internal/event"
	"lachan/internal/jsonlex"
	"lachan/internal/winevent"
)

// flattener reads a record in the nested form ({"Event": {"System": ...,
// "EventData": ...}}) straight into the event's flat fields, with none of
// the maps parseObject would build for it and winevent.Convert would then
// walk: a first pass checks the object and notes, for each member it will
// keep, the field name and where its value lies; only then are values
// made, every plain string a part of one copy of the object's bytes. It
// gives what parseObject and Convert give, or declines: for any other
// form, a repeated name, text it does not take, or anything parseObject
// would not accept, the caller goes the general way and so reports what
// it reported before. Members it does not stream (arrays, objects inside
// EventData) are parsed as parseObject parses them and handed to
// winevent's own functions.
//
// A flattener is used by one goroutine; its scratch space is reused from
// record to record, and nothing of it is referred to by the events it
// makes. A brief flattener's events refer to the bytes they were read
// from.
type flattener struct {
	p     parser
	items []flatItem
	// seen holds the member names of the objects being read, innermost
	// last, to decline a name repeated in one object.
	seen []string
	// prefix is the System name being built ("Provider", "Provider_Name").
	prefix []byte
	// names interns field names: a log's records repeat a few dozen.
	names map[string]internedName
	// last holds the names the previous record asked for, in order, and
	// next is the place of the next one: records of one shape name their
	// members in the same order, so a name is compared with the one at
	// its place before it is looked up.
	last []internedName
	next int
	// unchecked names the fields not checked as they were made.
	unchecked []string
	// more holds what members handed to winevent's functions gave; tmp
	// is one member's.
	more, tmp map[string]any
	// brief leaves the events without their ID (winevent.FromFieldsNoID)
	// and their plain string values in the caller's bytes (ReadJSONBrief).
	brief bool
	// fields is the map a brief flattener's events share, one record at a
	// time: a fresh map of some forty members per record cost more than
	// reading it (most of it touching newly allocated memory).
	fields map[string]any
	// arena holds the decoded strings (those with escapes: every Windows
	// path) of a brief flattener's record.
	arena []byte
	// boxes holds the strings a brief flattener's values point to, so
	// that a record's dozens of string values cost no allocation, not
	// one each. Each record fills the slab from its start again, as the
	// values of the previous one are no longer used; a full slab is
	// replaced, never written again within the record, so a value stays
	// what it was while its record is handled.
	boxes []string
	// ints is boxes for the integer values.
	ints []int64
	// guids holds, by item, the last text that canonicalGUID rewrote and
	// what it gave: records of one log repeat a few GUIDs (a provider's,
	// a process's) at the same place.
	guids []guidMemo
}

// guidMemo is a GUID's text as read and in its one form; buf holds the
// form for a brief flattener.
type guidMemo struct {
	raw []byte
	out string
	buf []byte
}

// boxSlab is the number of strings in a slab of boxes: more than most
// records hold.
const boxSlab = 256

// maxReused bounds the members of a map kept for the next record, so that
// one outsized record does not make every later one clear a large map.
const maxReused = 256

// maxInterned bounds the interned names; past it names are still made,
// just not kept.
const maxInterned = 4096

// flatKind says how a flatItem's value is made.
type flatKind uint8

const (
	kindText   flatKind = iota // a plain JSON string, src[lo:hi]
	kindNumber                 // JSON number text, src[lo:hi]
	kindTrue
	kindFalse
	kindDecoded // a string with escapes or non-ASCII text, already decoded
)

// flatName is a field name and whether it is free (event.FreeName).
type flatName struct {
	s    string
	free bool
}

// internedName is a flatName with the member name it was made of.
type internedName struct {
	member string
	flatName
}

type flatItem struct {
	name   flatName
	kind   flatKind
	lo, hi int
	text   string // kindDecoded
}

// convert reads the object starting at b[0] ('{'). ok is false when it
// declines; n is then meaningless.
func (f *flattener) convert(b []byte) (ev event.Event, n int, err error, ok bool) {
	f.p = parser{b: b}
	f.items, f.seen, f.prefix = f.items[:0], f.seen[:0], f.prefix[:0]
	// The previous record's values are no longer used, and are written
	// over: while a file is read the heap grows without a collection, so
	// a new slab would be fresh memory, faulted in and cleared by the
	// kernel first, which costs more than the writes into it.
	f.arena, f.boxes, f.ints = f.arena[:0], f.boxes[:0], f.ints[:0]
	f.next = 0
	clear(f.more)
	if !f.top() {
		return event.Event{}, 0, nil, false
	}
	n = f.p.i
	// One copy of the object's bytes holds every plain string value, or,
	// brief, the bytes themselves.
	src := bytesString(b[:n])
	if !f.brief {
		src = string(b[:n])
	}
	fields := f.fieldMap(len(f.items) + len(f.more) + 4)
	for i := range f.items {
		it := &f.items[i]
		var v any
		switch it.kind {
		case kindText:
			v = f.text(f.guid(i, src[it.lo:it.hi]))
		case kindNumber:
			v = f.number(src[it.lo:it.hi])
		case kindTrue:
			v = true
		case kindFalse:
			v = false
		case kindDecoded:
			v = f.text(winevent.StringText(it.text))
		}
		if !checkItem(it.name, v) {
			return event.Event{}, 0, nil, false // the general way words the error
		}
		fields[it.name.s] = v
		if len(fields) != i+1 {
			return event.Event{}, 0, nil, false // two members, one field
		}
	}
	f.unchecked = f.unchecked[:0]
	for k, v := range f.more {
		fields[k] = v
		f.unchecked = append(f.unchecked, k)
	}
	if len(fields) != len(f.items)+len(f.more) {
		return event.Event{}, 0, nil, false
	}
	ev, err = winevent.FromCheckedFields(fields, f.unchecked, !f.brief)
	return ev, n, err, true
}

// text is the field value holding s: for a brief flattener, a string in
// its slab of boxes.
func (f *flattener) text(s string) any {
	if !f.brief || s == "" {
		return s
	}
	if len(f.boxes) == cap(f.boxes) {
		f.boxes = make([]string, 0, boxSlab)
	}
	f.boxes = append(f.boxes, s)
	return stringValue(&f.boxes[len(f.boxes)-1])
}

// number is winevent.NumberValue(s): for a brief flattener, an integer
// is boxed in its slab.
func (f *flattener) number(s string) any {
	if !f.brief {
		return winevent.NumberValue(s)
	}
	n, ok := decimal(s)
	if !ok {
		var err error
		if n, err = strconv.ParseInt(s, 10, 64); err != nil {
			return winevent.NumberValue(s)
		}
	}
	if n >= 0 && n < 256 {
		return n // boxed without an allocation
	}
	if len(f.ints) == cap(f.ints) {
		f.ints = make([]int64, 0, boxSlab)
	}
	f.ints = append(f.ints, n)
	return boxed(int64Type, unsafe.Pointer(&f.ints[len(f.ints)-1]))
}

// decimal is the value of s when it is up to 18 decimal digits, which
// no int64 overflows: most numbers of a record (process and thread IDs,
// levels, tasks), read without strconv's general path. The JSON grammar
// already left no leading zero but that of "0".
func decimal(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int64(c)
	}
	return n, true
}

// guid is winevent.StringText(s) for the text s of the record's i'th
// item, without making again the form it made for the same text at the
// same place in the previous record. A brief flattener writes the form
// into the place's own bytes, over what the previous record's GUID there
// gave.
func (f *flattener) guid(i int, s string) string {
	if len(s) != 36 && len(s) != 38 {
		return s // no GUID; StringText would return it
	}
	if i < len(f.guids) && f.guids[i].out != "" && string(f.guids[i].raw) == s {
		return f.guids[i].out
	}
	if i >= maxReused {
		return winevent.StringText(s) // too far in to remember
	}
	for len(f.guids) <= i {
		f.guids = append(f.guids, guidMemo{})
	}
	m := &f.guids[i]
	var out string
	if f.brief {
		// Made in a buffer of its own: AppendStringText may write past
		// what it returns, and m.buf holds the form m.raw gave until m
		// is replaced.
		var form [38]byte
		b, same := winevent.AppendStringText(form[:0], s)
		if same {
			return s
		}
		m.buf = append(m.buf[:0], b...)
		out = bytesString(m.buf)
	} else if out = winevent.StringText(s); out == s {
		return s
	}
	m.raw, m.out = append(m.raw[:0], s...), out
	return out
}

// fieldMap returns an empty map for a record's n fields: a new one, or,
// brief, the previous record's, cleared.
func (f *flattener) fieldMap(n int) map[string]any {
	if !f.brief {
		return make(map[string]any, n)
	}
	if f.fields == nil || len(f.fields) > maxReused {
		f.fields = make(map[string]any, max(n, 64))
	}
	clear(f.fields)
	return f.fields
}

// checkItem is event.CheckField for a member the flattener made, whose
// name was checked when it was interned.
func checkItem(name flatName, v any) bool {
	if !name.free {
		return event.CheckField(name.s, v) == nil
	}
	s, ok := v.(string)
	return !ok || len(s) <= event.MaxValueBytes
}

// top reads the outer object: one "Event" member holding an object with
// a System object; other members are read and left, as Convert leaves
// them, but a dataset (a platform event) declines.
func (f *flattener) top() bool {
	p := &f.p
	p.i++ // '{'
	var nested, system bool
	for first := true; ; first = false {
		k, end, ok := f.key(first)
		if !ok {
			return false
		}
		if end {
			return nested && system
		}
		switch k {
		case "Event":
			if nested {
				return false
			}
			nested = true
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != '{' {
				return false
			}
			if system, ok = f.event(); !ok {
				return false
			}
		case event.FieldDataset:
			return false
		default:
			if !p.skip(1) {
				return false
			}
		}
	}
}

// event reads the Event object from its '{'; system tells whether it
// had a System object.
func (f *flattener) event() (system, ok bool) {
	p := &f.p
	ok = f.members(func(k string) bool {
		p.space()
		switch k {
		case "System":
			if p.i >= len(p.b) || p.b[p.i] != '{' {
				return false
			}
			system = true
			return f.system(2)
		case "EventData", "UserData":
			return f.data(2)
		case "#attributes":
			return p.skip(2)
		default:
			// Convert reads any other member as a member of System.
			return f.systemMember(k, 2)
		}
	})
	return system && ok, ok
}

// members reads an object from its '{', handing each member's name to
// member, which reads its value; it stops at the first member that fails
// or a name the object repeats, and reports whether the object was read
// whole.
func (f *flattener) members(member func(k string) bool) bool {
	f.p.i++
	mark := len(f.seen)
	defer func() { f.seen = f.seen[:mark] }()
	// lens has bit n%64 set when a name of length n was read: the names
	// are compared only with a length already seen.
	var lens uint64
	for first := true; ; first = false {
		k, end, ok := f.key(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		bit := uint64(1) << (len(k) % 64)
		if lens&bit != 0 && f.repeated(mark, k) {
			return false
		}
		lens |= bit
		f.seen = append(f.seen, k)
		if !member(k) {
			return false
		}
	}
}

// system reads a System object, or an object within one, from its '{';
// f.prefix is its name.
func (f *flattener) system(depth int) bool {
	if depth > maxParseDepth {
		return false
	}
	return f.members(func(k string) bool { return f.systemMember(k, depth) })
}

// systemMember reads the value of member k of a System object whose name
// is f.prefix, named as flattenSystem names it.
func (f *flattener) systemMember(k string, depth int) bool {
	p := &f.p
	saved := len(f.prefix)
	defer func() { f.prefix = f.prefix[:saved] }()
	switch {
	case k == "#attributes":
	case (k == "#text" || k == "Value") && saved > 0:
	default:
		if saved > 0 {
			f.prefix = append(f.prefix, '_')
		}
		f.prefix = append(f.prefix, k...)
	}
	p.space()
	if p.i >= len(p.b) {
		return false
	}
	switch p.b[p.i] {
	case '{':
		return f.system(depth + 1)
	case '[':
		v, ok := p.value(depth)
		if !ok {
			return false
		}
		return f.hand(func(m map[string]any) { winevent.FlattenSystem("", map[string]any{string(f.prefix): v}, m) })
	}
	if len(f.prefix) == 0 {
		return p.skip(depth) // flattenSystem keeps no unnamed value
	}
	return f.scalar(f.name(f.prefix))
}

// data reads an EventData or UserData value.
func (f *flattener) data(depth int) bool {
	p := &f.p
	if p.i >= len(p.b) {
		return false
	}
	if p.b[p.i] != '{' {
		v, ok := p.value(depth)
		return ok && f.hand(func(m map[string]any) { winevent.FlattenData(v, m) })
	}
	return f.members(func(k string) bool {
		p.space()
		if p.i >= len(p.b) {
			return false
		}
		switch c := p.b[p.i]; {
		case k == "#attributes" || k == "xmlns":
			return p.skip(depth + 1)
		case c == '{' || c == '[':
			// Whether an object is a named value or a wrapper to
			// flatten is known only at its end.
			v, ok := p.value(depth + 1)
			if !ok {
				return false
			}
			k := strings.Clone(k)
			return f.hand(func(m map[string]any) { winevent.FlattenData(map[string]any{k: v}, m) })
		default:
			return f.scalar(f.name([]byte(k)))
		}
	})
}

// scalar notes the string, number, Boolean or null at p.i as the value of
// field name (a null is no field, as in Convert).
func (f *flattener) scalar(name flatName) bool {
	p := &f.p
	it := flatItem{name: name}
	switch c := p.b[p.i]; {
	case c == '"':
		lo, hi, esc, ascii, ok := f.span()
		if !ok {
			return false
		}
		if !esc && (ascii || utf8.Valid(p.b[lo:hi])) {
			it.kind, it.lo, it.hi = kindText, lo, hi
		} else {
			s, ok := f.decode(lo, hi, ascii)
			if !ok {
				return false
			}
			it.kind, it.text = kindDecoded, s
		}
	case c == '-' || c >= '0' && c <= '9':
		lo := p.i
		end, _, ok := jsonlex.Number(p.b, p.i)
		p.i = end
		if !ok {
			return false
		}
		it.kind, it.lo, it.hi = kindNumber, lo, p.i
	case c == 't':
		if !p.literal("true") {
			return false
		}
		it.kind = kindTrue
	case c == 'f':
		if !p.literal("false") {
			return false
		}
		it.kind = kindFalse
	case c == 'n':
		return p.literal("null")
	default:
		return false
	}
	if name.s != "" {
		f.items = append(f.items, it)
	}
	return true
}

// span reads a string from its '"' and returns where its text lies, and
// whether it has escapes and whether it is all ASCII (otherwise it must be
// checked to be UTF-8).
func (f *flattener) span() (lo, hi int, esc, ascii, ok bool) {
	// The position is kept in a local and stored once: stored through f
	// at each step, it cost a store and a reload per word.
	b, i := f.p.b, f.p.i+1
	lo, ascii = i, true
	for i < len(b) {
		// Eight bytes at a time while none needs a look, then straight
		// to the first that does.
		for i+8 <= len(b) {
			m := jsonlex.SpecialMask8(binary.LittleEndian.Uint64(b[i:]))
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			f.p.i = i + 1
			return lo, i, esc, ascii, true
		case c == '\\':
			esc = true
			i += 2
			continue
		case c < 0x20:
			f.p.i = i
			return 0, 0, false, false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		i++
	}
	f.p.i = i
	return 0, 0, false, false, false
}

// decode is the text of the string whose span is b[lo:hi] (quotes
// excluded), which has escapes or is not valid UTF-8: decoded as
// parser.str decodes it, without reading it again. ascii tells that the
// span is all ASCII, as span found, so valid UTF-8 already. A brief
// flattener decodes into its arena.
func (f *flattener) decode(lo, hi int, ascii bool) (string, bool) {
	s := f.p.b[lo:hi]
	if ascii || utf8.Valid(s) {
		var out []byte
		if f.brief {
			if cap(f.arena)-len(f.arena) < len(s) {
				// Replaced, not grown: what was handed out stays.
				f.arena = make([]byte, 0, max(8<<10, 2*len(s)))
			}
			out = f.arena[len(f.arena):]
		}
		if out, ok := appendUnescaped(out, s); ok {
			if f.brief {
				f.arena = f.arena[:len(f.arena)+len(out)]
			}
			return bytesString(out), true
		}
	}
	var out string
	if json.Unmarshal(f.p.b[lo-1:hi+1], &out) != nil {
		return "", false
	}
	return out, true
}

// key reads the next member name of an object, or its end ('}'). Names
// with escapes or outside ASCII decline. The name refers to the input
// until the next record.
func (f *flattener) key(first bool) (k string, end, ok bool) {
	p := &f.p
	p.space()
	if p.i >= len(p.b) {
		return "", false, false
	}
	if !first {
		switch p.b[p.i] {
		case '}':
			p.i++
			return "", true, true
		case ',':
			p.i++
			p.space()
		default:
			return "", false, false
		}
	} else if p.b[p.i] == '}' {
		p.i++
		return "", true, true
	}
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false, false
	}
	lo, hi, esc, ascii, ok := f.span()
	if !ok || esc || !ascii {
		return "", false, false
	}
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != ':' {
		return "", false, false
	}
	p.i++
	return bytesString(p.b[lo:hi]), false, true
}

// repeated tells whether k is a member already of the object whose names
// start at seen[mark].
func (f *flattener) repeated(mark int, k string) bool {
	for _, s := range f.seen[mark:] {
		if s == k {
			return true
		}
	}
	return false
}

// name is the interned field name of the member name b, with whether it is
// free (event.FreeName).
func (f *flattener) name(b []byte) flatName {
	i := f.next
	f.next++
	if i < len(f.last) && f.last[i].member == string(b) {
		return f.last[i].flatName
	}
	n, ok := f.names[string(b)]
	if !ok {
		s := winevent.FieldName(string(b))
		n = internedName{string(b), flatName{s, event.FreeName(s)}}
		if f.names == nil {
			f.names = make(map[string]internedName, 64)
		}
		if len(f.names) < maxInterned {
			f.names[n.member] = n
		}
	}
	if i < len(f.last) {
		f.last[i] = n
	} else if i == len(f.last) && i < maxInterned {
		f.last = append(f.last, n)
	}
	return n.flatName
}

// hand adds the fields put gives, declining when one of them is a field
// another member gave.
func (f *flattener) hand(put func(map[string]any)) bool {
	if f.more == nil {
		f.more, f.tmp = make(map[string]any, 8), make(map[string]any, 8)
	}
	clear(f.tmp)
	put(f.tmp)
	for k, v := range f.tmp {
		if _, dup := f.more[k]; dup {
			return false
		}
		f.more[k] = v
	}
	return true
}

// bytesString is b as a string, without a copy: b must not change while
// the string is in use.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// eface is the layout of an interface value of type any.
type eface struct {
	typ, data unsafe.Pointer
}

// stringType and int64Type are the type words of a string and an int64
// held in an any.
var (
	stringType = typeWord("string")
	int64Type  = typeWord(int64(1 << 20))
)

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// stringValue is *p as an any that points to p itself, which is what
// converting *p to an any would allocate and copy: *p must not change
// while the value is in use.
func stringValue(p *string) any { return boxed(stringType, unsafe.Pointer(p)) }

// boxed is the any of type word typ whose value is at p.
func boxed(typ, p unsafe.Pointer) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = typ, p
	return v
}
