package yara

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrIndex marks a rule file left out because it only includes other rule
// files that are compiled on their own.
var ErrIndex = errors.New("index file")

// IndexFile is a rule file made of include statements only (rule sets such
// as Yara-Rules ship index.yar files that pull in every other file). Each
// file it includes is compiled on its own in the same run, so compiling the
// index too would report every match twice; it is left out instead.
type IndexFile struct {
	File     string
	Includes int
}

func (e *IndexFile) Error() string {
	return fmt.Sprintf("%s: index of %d rule file(s) that are compiled on their own; not compiled again", e.File, e.Includes)
}

// Is makes errors.Is(err, ErrIndex) true.
func (e *IndexFile) Is(target error) bool { return target == ErrIndex }

// IncludesOnly returns the names a rule source includes when it holds
// nothing but include statements, comments and white space; ok is false
// for any other source, including one with no include at all.
func IncludesOnly(src string) (names []string, ok bool) {
	s := src
	for {
		s = skipSpaceAndComments(s)
		if s == "" {
			return names, len(names) > 0
		}
		rest, found := strings.CutPrefix(s, "include")
		if !found {
			return nil, false
		}
		rest = skipSpaceAndComments(rest)
		name, after, ok := quoted(rest)
		if !ok {
			return nil, false
		}
		names = append(names, name)
		s = after
	}
}

// skipSpaceAndComments drops leading white space, // and /* */ comments.
func skipSpaceAndComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n\f\v")
		switch {
		case strings.HasPrefix(s, "//"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return "/*" // unterminated: not an index file
			}
			s = s[2+i+2:]
		default:
			return s
		}
	}
}

// quoted reads a double-quoted string without escapes, as include names
// are written, and returns it with the text after it.
func quoted(s string) (name, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", false
	}
	i := strings.IndexAny(s[1:], "\"\\\n")
	if i < 0 || s[1+i] != '"' || i == 0 {
		return "", "", false
	}
	return s[1 : 1+i], s[2+i:], true
}

// isRuleFile reports whether a path names a rule file the walk compiles.
func isRuleFile(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".yar" || ext == ".yara"
}
