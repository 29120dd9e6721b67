package report

import (
	"embed"
	"fmt"
	"maps"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed catalog/*.yml
var catalogFS embed.FS

// catalogs are the report's strings by language, read once.
var catalogs = func() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range []string{LangVI, LangEN} {
		b, err := catalogFS.ReadFile("catalog/" + lang + ".yml")
		if err != nil {
			panic("report: catalog " + lang + ": " + err.Error())
		}
		m := map[string]string{}
		if err := yaml.Unmarshal(b, &m); err != nil {
			panic("report: catalog " + lang + ": " + err.Error()) // checked by a test
		}
		out[lang] = m
	}
	return out
}()

// CatalogKeys lists a language's keys, sorted.
func CatalogKeys(lang string) []string { return slices.Sorted(maps.Keys(catalogs[lang])) }

// tr translates keys for one report and remembers keys it lacked, so that
// a test can render every kind and fail on a missing one.
type tr struct {
	lang    string
	m       map[string]string
	missing map[string]bool
}

func newTr(lang string) *tr {
	return &tr{lang: lang, m: catalogs[lang], missing: map[string]bool{}}
}

// T formats the string of key with args; times print as dates in the
// language's order, durations in hours.
func (t *tr) T(key string, args ...any) string {
	f, ok := t.m[key]
	if !ok {
		t.missing[key] = true
		return "!" + key + "!"
	}
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			args[i] = t.date(v)
		case time.Duration:
			args[i] = t.hours(v)
		}
	}
	return fmt.Sprintf(f, args...)
}

// G translates a gap or a reason.
func (t *tr) G(g Gap) string { return t.T(g.Key, slices.Clone(g.Args)...) }

func (t *tr) date(v time.Time) string {
	if v.IsZero() {
		return "—"
	}
	if t.lang == LangEN {
		return v.UTC().Format("2006-01-02")
	}
	return v.UTC().Format("02/01/2006")
}

func (t *tr) dateTime(v time.Time) string {
	if v.IsZero() {
		return "—"
	}
	if t.lang == LangEN {
		return v.UTC().Format("2006-01-02 15:04 UTC")
	}
	return v.UTC().Format("15:04 02/01/2006 UTC")
}

func (t *tr) hours(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}

// pct prints a share as a percentage, or the catalog's "not assessable".
func (t *tr) pct(v float64) string {
	if v < 0 {
		return t.T("na")
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

// word translates a value (a severity, a status, a control result) under
// a prefix, falling back to the value itself for values the catalog does
// not name (a new severity stored by a later version).
func (t *tr) word(prefix, v string) string {
	if s, ok := t.m[prefix+"."+v]; ok {
		return s
	}
	if v == "" {
		return "—"
	}
	return v
}
