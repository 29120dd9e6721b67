package console

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

//go:embed i18n/*.json
var catalogFS embed.FS

// Languages the console speaks, the first the default.
var languages = []string{"vi", "en"}

// catalog is one language's messages by key.
type catalog map[string]string

// loadCatalogs reads every language's catalog.
func loadCatalogs() (map[string]catalog, error) {
	out := map[string]catalog{}
	for _, lang := range languages {
		b, err := catalogFS.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			return nil, fmt.Errorf("catalog %s: %w", lang, err)
		}
		var c catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("catalog i18n/%s.json: %w", lang, err)
		}
		out[lang] = c
	}
	return out, nil
}

// translate returns the message of key, formatted with args; a key the
// catalog lacks shows as itself between markers, so that it is seen (and
// TestCatalogs fails on it before that).
func (c catalog) translate(key string, args ...any) string {
	msg, ok := c[key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// value translates a value of a known set (a status, a severity…) as
// the key prefix.value; a value the catalog does not know shows as
// itself, since it came from stored data, not from the console.
func (c catalog) value(prefix string, v any) string {
	s := fmt.Sprint(v)
	if msg, ok := c[prefix+"."+s]; ok {
		return msg
	}
	if s == "" {
		return "—"
	}
	return visible(s)
}

// langOf is the request's language: the cookie's when it names one the
// console speaks, else Vietnamese.
func langOf(r *http.Request) string {
	if c, err := r.Cookie(cookieLang); err == nil && slices.Contains(languages, c.Value) {
		return c.Value
	}
	return languages[0]
}

// setLang sets the language cookie and goes back to the page.
func (c *Console) setLang(w http.ResponseWriter, r *http.Request) {
	lang := r.URL.Query().Get("set")
	if !slices.Contains(languages, lang) {
		c.problem(w, r, http.StatusBadRequest, "err.lang", lang)
		return
	}
	setCookie(w, cookieLang, lang, 365*24*3600)
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}
