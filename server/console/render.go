package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages are the templates of whole pages; each is parsed with layout.html.
var pages = []string{"login", "password", "overview", "queue", "incident", "audit", "hosts", "systems", "hunt", "host", "live", "rules", "problem"}

// zone is the time zone pages show times in: Vietnam's, which has no
// daylight saving, so a fixed offset needs no tz database on the server.
var zone = time.FixedZone("ICT", 7*3600)

// funcs are the template functions; "t" is bound per language.
func funcs(cat catalog) template.FuncMap {
	return template.FuncMap{
		"t":     cat.translate,
		"tv":    cat.value,
		"v":     visible,
		"when":  func(t time.Time) string { return fmtTime(t) },
		"ago":   func(t time.Time) string { return fmtAgo(cat, t) },
		"left":  func(d time.Duration) string { return fmtLeft(d) },
		"has":   func(perms []string, p string) bool { return slices.Contains(perms, p) },
		"join":  func(s []string) string { return visible(strings.Join(s, ", ")) },
		"pivot": pivot,
		"half":  half,
		"caret": caret,
		"trim":  trim,
		"count": fmtCount,
		"mulf":  func(a float64, b float64) float64 { return a * b },
		"short": func(id string) string {
			if len(id) > 12 {
				return id[:12]
			}
			return id
		},
	}
}

// parseTemplates builds every page in every language.
func parseTemplates(cats map[string]catalog) (map[string]map[string]*template.Template, error) {
	out := map[string]map[string]*template.Template{}
	for lang, cat := range cats {
		out[lang] = map[string]*template.Template{}
		for _, p := range pages {
			t, err := template.New(p+".html").Funcs(funcs(cat)).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
			if err != nil {
				return nil, fmt.Errorf("template %s: %w", p, err)
			}
			out[lang][p] = t
		}
	}
	return out, nil
}

// half is the part of a text written "Vietnamese / English" (the
// registry's names and the coverage's gaps) in lang; a text without
// the separator is the same in both.
func half(s, lang string) string {
	vi, en, ok := strings.Cut(s, " / ")
	if !ok {
		return s
	}
	if lang == "en" {
		return en
	}
	return vi
}

// visible makes control characters (terminal escape codes, bidi
// overrides and the like) show as their escapes, so a host name or a
// command line cannot hide text or reorder what an analyst reads. HTML
// escaping is html/template's.
func visible(s string) string {
	if !strings.ContainsFunc(s, hidden) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if hidden(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hidden(r rune) bool {
	return r != ' ' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(zone).Format("2006-01-02 15:04:05")
}

func fmtAgo(cat catalog, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return cat.translate("time.seconds", int(d.Seconds()))
	case d < time.Hour:
		return cat.translate("time.minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return cat.translate("time.hours", int(d.Hours()))
	}
	return cat.translate("time.days", int(d.Hours()/24))
}

func fmtLeft(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "−", -d
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%s%dh%02dm", sign, int(d.Hours()), int(d.Minutes())%60)
}

// render writes a page. The page is rendered to memory first, so a
// template failing halfway answers 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	v.Lang = langOf(r)
	if v.Path == "" {
		v.Path = r.URL.RequestURI()
	}
	var buf bytes.Buffer
	if err := c.tmpl[v.Lang][page].Execute(&buf, v); err != nil {
		c.log.Error("render page", "page", page, "err", err)
		http.Error(w, "render: internal error", http.StatusInternalServerError)
		return
	}
	secure(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// problem answers with an error page whose message is a catalog key.
func (c *Console) problem(w http.ResponseWriter, r *http.Request, status int, key string, args ...any) {
	c.render(w, r, status, "problem", &view{Title: "problem.title", Error: c.cats[langOf(r)].translate(key, args...)})
}

// static serves the embedded stylesheet and script.
func (c *Console) static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // files only, no listing
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
