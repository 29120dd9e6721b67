package yara

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrModule marks a rule file refused because it needs a module, or a
// field of a module, that the agent's libyara does not have.
var ErrModule = errors.New("module not available")

// ModuleError is a rule file refused by checkModules, at the line that
// names the module or field.
type ModuleError struct {
	File   string
	Line   int
	Module string // the module imported, or the field used ("pe.is_signed")
	Msg    string
}

func (e *ModuleError) Error() string {
	return (&CompileError{File: e.File, Line: e.Line, Msg: e.Msg}).Error()
}

// Is makes errors.Is(err, ErrModule) true.
func (e *ModuleError) Is(target error) bool { return target == ErrModule }

// moduleUse is a module import or a module field in a rule source.
type moduleUse struct {
	name string // "pe", or "pe.is_signed" for a field
	line int
	imp  bool // an import statement rather than a field
}

// checkModules refuses src when it imports a module outside allowed or
// uses one of the fields in unset (fields the library declares but never
// fills, so that a rule testing them would quietly decide otherwise than
// on Linux). A nil allowed lets the library decide. It is done before
// libyara sees the file, so the refusal names the module rather than
// libyara's "unknown module", and so that a module the library has but the
// agent does not vouch for is refused too.
func checkModules(file, src string, allowed, unset []string) error {
	if allowed == nil && len(unset) == 0 {
		return nil
	}
	var errs []error
	for _, u := range moduleUses(src) {
		switch {
		case u.imp && allowed != nil && !slices.Contains(allowed, u.name):
			errs = append(errs, &ModuleError{File: file, Line: u.line, Module: u.name,
				Msg: fmt.Sprintf("imports module %q, which this agent's YARA does not have (it has %s)", u.name, strings.Join(allowed, ", "))})
		case !u.imp && slices.Contains(unset, u.name):
			errs = append(errs, &ModuleError{File: file, Line: u.line, Module: u.name,
				Msg: fmt.Sprintf("uses %s, which this agent's YARA cannot compute (built without OpenSSL), so the rule would not decide as it does elsewhere", u.name)})
		}
	}
	return errors.Join(errs...)
}

// moduleUses returns the import statements of src and its uses of
// module.field, skipping comments, text strings and regular expressions.
// import is a keyword in YARA, so any bare "import" token starts one.
func moduleUses(src string) []moduleUse {
	var uses []moduleUse
	line := 1
	prev := "" // the last token, to tell a regular expression from a division
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case strings.HasPrefix(src[i:], "//"):
			i = skipTo(src, i, "\n", true) // the newline is counted above
		case strings.HasPrefix(src[i:], "/*"):
			end := skipTo(src, i+2, "*/", false)
			line += strings.Count(src[i:end], "\n")
			i = end
		case c == '"':
			i = skipLiteral(src, i+1, '"')
			prev = `"`
		case c == '/' && (prev == "=" || prev == "matches"):
			i = skipLiteral(src, i+1, '/')
			prev = "/"
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			word := src[i:j]
			sigil := i > 0 && strings.IndexByte("$#@!", src[i-1]) >= 0
			switch {
			case sigil:
			case word == "import":
				if name, ok := importName(src[j:]); ok {
					uses = append(uses, moduleUse{name: name, line: line, imp: true})
				}
			case j < len(src) && src[j] == '.':
				k := j + 1
				for k < len(src) && isIdentPart(src[k]) {
					k++
				}
				if k > j+1 {
					uses = append(uses, moduleUse{name: src[i:k], line: line})
					j = k
				}
			}
			prev, i = word, j
		case c == ' ' || c == '\t' || c == '\r':
			i++
		default:
			prev = string(c)
			i++
		}
	}
	return uses
}

// importName reads the quoted module name after an import keyword.
func importName(s string) (string, bool) {
	s = strings.TrimLeft(s, " \t")
	name, _, ok := quoted(s)
	return name, ok
}

// skipTo returns the index just past the next end at or after i (or the
// end of src); with keepEnd it returns the index of end itself.
func skipTo(src string, i int, end string, keepEnd bool) int {
	k := strings.Index(src[i:], end)
	if k < 0 {
		return len(src)
	}
	if keepEnd {
		return i + k
	}
	return i + k + len(end)
}

// skipLiteral skips a text string or regular expression whose opening
// quote is just before i; neither may span lines, so a newline ends it.
func skipLiteral(src string, i int, quote byte) int {
	for i < len(src) {
		switch src[i] {
		case '\\':
			if i+1 < len(src) && src[i+1] == '\n' {
				return i + 1
			}
			i += 2
			continue
		case quote:
			return i + 1
		case '\n':
			return i
		}
		i++
	}
	return len(src)
}

func isIdentStart(c byte) bool {
	return c == '_' || (c|0x20) >= 'a' && (c|0x20) <= 'z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
