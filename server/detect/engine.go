package detect

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"lachan/internal/event"
)

// LogSourcesFile is the name of the mapping file that Load skips when it
// lies among the rules.
const LogSourcesFile = "logsources.yml"

// Config holds the engine's settings.
type Config struct {
	// Placeholders are the values of "expand" placeholders; a placeholder
	// not listed here matches nothing, and the rule loads with a warning.
	Placeholders Placeholders `mapstructure:"placeholders"`
}

// DefaultConfig returns a configuration with no placeholders.
func DefaultConfig() Config { return Config{Placeholders: Placeholders{}} }

// Validate checks that every placeholder has a name and at least one value.
func (c Config) Validate() error {
	for name, vals := range c.Placeholders {
		if name == "" || strings.ContainsAny(name, "%*? ") {
			return fmt.Errorf("detect config: placeholder name %q: must be non-empty without %%, *, ? or spaces", name)
		}
		if len(vals) == 0 {
			return fmt.Errorf("detect config: placeholder %q: no values", name)
		}
	}
	return nil
}

// Engine holds compiled rules indexed by event dataset and, within a
// dataset, by the value of the log source's "where" field. It is immutable
// once loaded, so Match may be called from any number of goroutines.
type Engine struct {
	rules     []*Rule
	byDataset map[string]*datasetIndex
	warnings  []error
	// nfields is one more than the field IDs given to rule fields.
	nfields int
	// fieldIDs numbers the fields rules test.
	fieldIDs map[string]int32
	// nlits is the number of literals the prefilters scan for.
	nlits int
}

// Tests tells whether a loaded rule tests the event field name.
func (e *Engine) Tests(name string) bool {
	_, ok := e.fieldIDs[name]
	return ok
}

// Warnings returns what loading found wrong in rules that loaded anyway
// (see Rule.Warnings), in load order.
func (e *Engine) Warnings() []error { return e.warnings }

// datasetIndex is the rules of one dataset: those that see every event and
// those that see only events with given values of one field.
type datasetIndex struct {
	always  []compiled
	keyed   []keyIndex
	alwaysB *bucket
	// merged is set when the dataset's rules are keyed by one field and
	// its buckets hold the rules that see every event too: an event with
	// a bucket then has its fields scanned once, not once for each of two
	// buckets, and alwaysB runs only for the others.
	merged bool
}

// maxMerged bounds the rules that see every event of a dataset copied into
// each of its keyed buckets (Sysmon has five, the Security log 178, too
// many to copy into each of its event IDs' buckets).
const maxMerged = 16

type keyIndex struct {
	field   string
	byValue map[string][]compiled
	buckets map[string]*bucket
}

// build makes the prefilter of every rule list once all rules are in.
// Every field a rule tests gets an ID (from 1), by which Match keeps the
// field's value and lower case once per event.
func (e *Engine) build() {
	ids := map[string]int32{}
	id := func(f string) int32 {
		if i, ok := ids[f]; ok {
			return i
		}
		ids[f] = int32(len(ids) + 1)
		return ids[f]
	}
	lits := map[litKey]int32{}
	litID := func(k litKey) int32 {
		if i, ok := lits[k]; ok {
			return i
		}
		lits[k] = int32(len(lits))
		return lits[k]
	}
	number := func(b *bucket) *bucket {
		for _, c := range b.rules {
			numberFields(c.cond, id)
		}
		for i := range b.fields {
			b.fields[i].fid = id(b.fields[i].field)
		}
		return b
	}
	for _, idx := range e.byDataset {
		idx.alwaysB = number(newBucket(idx.always, litID))
		idx.merged = len(idx.keyed) == 1 && len(idx.always) > 0 && len(idx.always) <= maxMerged
		for i := range idx.keyed {
			k := &idx.keyed[i]
			id(k.field)
			k.buckets = make(map[string]*bucket, len(k.byValue))
			for v, cs := range k.byValue {
				if idx.merged {
					cs = mergeSeq(idx.always, cs)
				}
				k.buckets[v] = number(newBucket(cs, litID))
			}
		}
	}
	e.nfields, e.fieldIDs, e.nlits = len(ids)+1, ids, len(lits)
}

// mergeSeq merges two rule lists, each in load order, into one in load
// order; on a tie (one rule compiled for two mappings) a's comes first, as
// Match orders the matches of its two buckets.
func mergeSeq(a, b []compiled) []compiled {
	out := make([]compiled, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if b[0].seq < a[0].seq {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// compiled is a rule compiled for one log-source mapping; seq is the rule's
// load order, which orders matches.
type compiled struct {
	rule *Rule
	cond node
	seq  int
}

// Match is one rule firing on one event.
type Match struct {
	Rule *Rule
	// Fields are the event fields that satisfied the selections that made
	// the rule fire, in name order.
	Fields MatchedFields
}

// MatchedField is an event field, by its event field name, and its value.
type MatchedField struct {
	Name  string
	Value any
}

// MatchedFields are the fields of a match in name order, each once. They
// are a sorted list rather than a map: a rule names a few fields, and an
// alert writes them in name order, so a map cost a hash table per match
// and a sort per alert.
type MatchedFields []MatchedField

// Map returns the fields as a new map of name to value (empty, not nil,
// without fields).
func (fs MatchedFields) Map() map[string]any {
	m := make(map[string]any, len(fs))
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

// String formats the fields as their Map is formatted.
func (fs MatchedFields) String() string { return fmt.Sprint(fs.Map()) }

// Load is LoadWith with DefaultConfig.
func Load(fsys fs.FS, root string, sources LogSources) (*Engine, []error) {
	return LoadWith(fsys, root, sources, DefaultConfig())
}

// RuleDir is one tree of rule files: Root inside FS, shown in rule file
// names and errors with Name in front when Name is set (a directory path
// on disk, say).
type RuleDir struct {
	FS   fs.FS
	Root string
	Name string
}

// LoadWith loads the rules under root in fsys; see LoadDirs.
func LoadWith(fsys fs.FS, root string, sources LogSources, cfg Config) (*Engine, []error) {
	return LoadDirs([]RuleDir{{FS: fsys, Root: root}}, sources, cfg)
}

// LoadDirs parses and compiles every rule file (*.yml, *.yaml) under each
// directory, skipping the log-source file and test-case files
// (*.tests.yml). A rule with errors, whose logsource no mapping covers, or
// that uses a field its log source lacks is left out and its errors
// returned; the other rules still load. A rule ID may be used once across
// all directories.
func LoadDirs(dirs []RuleDir, sources LogSources, cfg Config) (*Engine, []error) {
	e := &Engine{byDataset: map[string]*datasetIndex{}}
	if err := cfg.Validate(); err != nil {
		return e, []error{err}
	}
	if cfg.Placeholders == nil {
		cfg.Placeholders = Placeholders{}
	}
	l := &loader{e: e, sources: sources, cfg: cfg, ids: map[string]string{}}
	for _, d := range dirs {
		l.dir(d)
	}
	e.build()
	return e, l.errs
}

type loader struct {
	e       *Engine
	sources LogSources
	cfg     Config
	ids     map[string]string
	errs    []error
}

func (l *loader) dir(d RuleDir) {
	walkErr := fs.WalkDir(d.FS, d.Root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			l.errs = append(l.errs, fmt.Errorf("walk %s: %w", path.Join(d.Name, p), err))
			return nil
		}
		if de.IsDir() || !isRuleFile(p) {
			return nil
		}
		l.file(d, p)
		return nil
	})
	if walkErr != nil {
		l.errs = append(l.errs, fmt.Errorf("walk %s: %w", path.Join(d.Name, d.Root), walkErr))
	}
}

func (l *loader) file(d RuleDir, p string) {
	name := p
	if d.Name != "" {
		name = path.Join(d.Name, p)
	}
	src, err := fs.ReadFile(d.FS, p)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("read rule %s: %w", name, err))
		return
	}
	rules, err := ParseRules(name, src)
	if err != nil {
		l.errs = flatten(l.errs, err)
	}
	for _, r := range rules {
		l.rule(name, r)
	}
}

// rule adds one parsed rule of file name.
func (l *loader) rule(name string, r *Rule) {
	r, err := checkRule(r, l.sources)
	if err != nil {
		l.errs = flatten(l.errs, err)
		return
	}
	if first, dup := l.ids[r.ID]; dup {
		l.errs = append(l.errs, &Error{File: name, Pos: r.idPos, Msg: fmt.Sprintf("duplicate rule id %q (first used in %s)", r.ID, first)})
		return
	}
	if err := l.e.add(r, l.sources, l.cfg.Placeholders); err != nil {
		l.errs = append(l.errs, err)
		return
	}
	l.ids[r.ID] = name
	r.Warnings = append(r.Warnings, unconfiguredPlaceholders(r, l.cfg.Placeholders)...)
	for _, w := range r.Warnings {
		l.e.warnings = append(l.e.warnings, w)
	}
}

func isRuleFile(p string) bool {
	base := path.Base(p)
	ext := path.Ext(base)
	if ext != ".yml" && ext != ".yaml" {
		return false
	}
	stem := strings.TrimSuffix(base, ext)
	return base != LogSourcesFile && !strings.HasSuffix(stem, ".tests")
}

// add compiles a rule once per mapping that covers it, since each mapping
// may name its fields differently.
func (e *Engine) add(r *Rule, sources LogSources, ph Placeholders) error {
	done := map[string]bool{}
	type target struct {
		c  compiled
		ds string
		w  *Where
	}
	var targets []target
	maps := r.maps
	if maps == nil {
		maps = sources.Resolve(r.LogSource)
	}
	for _, m := range maps {
		cond, err := compileRule(r, m, ph)
		if err != nil {
			pe, _ := err.(*posError)
			if pe == nil {
				return &Error{File: r.File, Msg: err.Error()}
			}
			return &Error{File: r.File, Pos: pe.Pos, Msg: pe.Msg}
		}
		c := compiled{rule: r, cond: cond, seq: len(e.rules)}
		for _, ds := range m.DatasetsFor(r.LogSource) {
			// The first mapping wins a dataset, so a rule fires once per event.
			if !done[ds] {
				done[ds] = true
				targets = append(targets, target{c, ds, m.Where})
			}
		}
	}
	for _, t := range targets {
		e.index(t.ds, t.w, t.c)
	}
	r.alert = newAlertMeta(r)
	e.rules = append(e.rules, r)
	return nil
}

func (e *Engine) index(ds string, w *Where, c compiled) {
	idx := e.byDataset[ds]
	if idx == nil {
		idx = &datasetIndex{}
		e.byDataset[ds] = idx
	}
	if w == nil {
		idx.always = append(idx.always, c)
		return
	}
	var k *keyIndex
	for i := range idx.keyed {
		if idx.keyed[i].field == w.Field {
			k = &idx.keyed[i]
		}
	}
	if k == nil {
		idx.keyed = append(idx.keyed, keyIndex{field: w.Field, byValue: map[string][]compiled{}})
		k = &idx.keyed[len(idx.keyed)-1]
	}
	for _, v := range w.Values {
		k.byValue[v] = append(k.byValue[v], c)
	}
}

// Rules returns the loaded rules in file order. The slice is the engine's;
// callers must not change it.
func (e *Engine) Rules() []*Rule {
	return e.rules
}

// Match runs the rules that cover the event's dataset (and, for indexed
// log sources, its key field's value) and returns those that fire, in rule
// load order.
func (e *Engine) Match(ev event.Event) []Match {
	idx := e.byDataset[ev.Dataset]
	if idx == nil {
		return nil
	}
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	ctx := &sc.ctx
	sc.ev = ev // the context points here, so that ev itself stays on the stack
	ctx.ev, ctx.sc = &sc.ev, sc
	ctx.begin(e.nfields)
	out := sc.out[:0]
	if !idx.merged {
		out = e.run(ctx, idx.alwaysB, out)
	}
	keyed := false
	for _, k := range idx.keyed {
		v, ok := ev.Get(k.field)
		if !ok {
			continue
		}
		s, ok := scalarString(v)
		if !ok {
			continue
		}
		if b := k.buckets[strings.ToLower(s)]; b != nil {
			out, keyed = e.run(ctx, b, out), true
		}
	}
	if idx.merged && !keyed {
		out = e.run(ctx, idx.alwaysB, out)
	}
	sc.out = out
	if len(out) == 0 {
		return nil
	}
	if len(idx.keyed) > 0 && len(out) > 1 {
		slices.SortStableFunc(out, func(a, b seqMatch) int { return cmp.Compare(a.seq, b.seq) })
	}
	ms := make([]Match, len(out))
	// One list holds the fields of every match, each match a part of it.
	var fields MatchedFields
	if len(sc.fields) > 0 {
		fields = slices.Clone(sc.fields)
	}
	for i, o := range out {
		ms[i] = Match{Rule: o.rule, Fields: fields[o.lo:o.hi:o.hi]}
	}
	return ms
}

// scratch is the per-event working state of Match; scratchPool keeps Match
// from allocating it (and the lower-case cache) per event. Marks and found
// literals are left cleared between uses.
type scratch struct {
	ctx evalCtx
	ev  event.Event
	out []seqMatch // the matches of the current event
	// fields are the matched fields of out, each match's a part of them.
	fields MatchedFields
	mark   []uint64 // a bucket's rules marked as candidates, a bit each
	found  []bool   // by literal ID: found by the scan of the current bucket
	set    []int32  // literals marked found, to clear them
	idx    []int
	arena  []byte // lower-cased field values of the current event
}

// lowerASCII appends the lower case of the ASCII string s to the arena and
// returns it. A full arena is replaced, not grown, so strings already
// handed out stay valid.
func (sc *scratch) lowerASCII(s string) string {
	if cap(sc.arena)-len(sc.arena) < len(s) {
		sc.arena = make([]byte, 0, max(16<<10, 2*len(s)))
	}
	start := len(sc.arena)
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		sc.arena = append(sc.arena, b)
	}
	return unsafe.String(&sc.arena[start], len(s))
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// marks returns a cleared bit set of n rules.
func (sc *scratch) marks(n int) []uint64 {
	n = (n + 63) / 64
	if cap(sc.mark) < n {
		sc.mark = make([]uint64, n)
	}
	return sc.mark[:n]
}

func (sc *scratch) founds(n int) []bool {
	if cap(sc.found) < n {
		sc.found = make([]bool, n)
	}
	return sc.found[:n]
}

// release clears what refers to the event and returns sc to the pool.
func (sc *scratch) release() {
	sc.ctx.ev, sc.ctx.sc = nil, nil
	sc.ev = event.Event{}
	clear(sc.out) // keep no rule alive in the pool
	sc.out = sc.out[:0]
	clear(sc.fields) // nor any event's values
	sc.fields = sc.fields[:0]
	sc.arena = sc.arena[:0] // nothing lowered for this event is used after Match
	if len(sc.ctx.lower) > 256 {
		sc.ctx.lower = nil // an outsized event: do not keep its map
	} else {
		clear(sc.ctx.lower)
	}
	scratchPool.Put(sc)
}

// seqMatch is a rule that fired, its place in load order and where its
// fields lie in the scratch's fields.
type seqMatch struct {
	rule   *Rule
	seq    int
	lo, hi int
}

// run evaluates the rules of a bucket that its prefilter lets through.
func (e *Engine) run(ctx *evalCtx, b *bucket, out []seqMatch) []seqMatch {
	if len(b.rules) == 0 {
		return out
	}
	sc := ctx.sc
	found := sc.founds(e.nlits)
	sc.idx = b.candidates(ctx, sc, found, sc.idx[:0])
	ctx.found = found
	for _, i := range sc.idx {
		c := b.rules[i]
		if !c.cond.eval(ctx) {
			continue
		}
		lo := len(sc.fields)
		sc.fields = collect(c.cond, ctx, sc.fields, lo)
		slices.SortFunc(sc.fields[lo:], func(a, b MatchedField) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, seqMatch{c.rule, c.seq, lo, len(sc.fields)})
	}
	ctx.found = nil
	for _, g := range sc.set {
		found[g] = false
	}
	sc.set = sc.set[:0]
	return out
}
