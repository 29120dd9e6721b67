package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sqlRefs is what a query reads: its tables, the aliases that name them,
// the columns it mentions, and the names its SELECT list gives results.
type sqlRefs struct {
	tables  []string
	aliases map[string]string // alias or table name → table
	columns []colRef
	outputs []string
	ctes    []string
}

type colRef struct{ qualifier, name string }

type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number, 'p' punctuation
	text string
}

// keywords are the SQL words our packs use that are not column names;
// a column named like one of them would have to be quoted.
var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`select from where as and or not join left right inner outer cross natural on
		using group by order having limit offset in is null like glob regexp match distinct all case when then else
		end asc desc between union intersect except with exists cast collate nocase true false escape text integer
		bigint real`) {
		keywords[k] = true
	}
}

// tokenize splits SQL into tokens, dropping comments and white space.
func tokenize(sql string) ([]token, error) {
	var out []token
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return out, nil
			}
			i += j
		case strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("offset %d: unterminated comment", i)
			}
			i += j + 4
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(sql) && (sql[j] != c || j+1 < len(sql) && sql[j+1] == c) {
				if sql[j] == c {
					j++ // a doubled quote stands for itself
				}
				j++
			}
			if j >= len(sql) {
				return nil, fmt.Errorf("offset %d: unterminated quote", i)
			}
			kind := byte('s')
			if c != '\'' {
				kind = 'i'
			}
			out = append(out, token{kind, strings.ToLower(sql[i+1 : j])})
			i = j + 1
		case isIdentStart(c):
			j := i
			for j < len(sql) && (isIdentStart(sql[j]) || sql[j] >= '0' && sql[j] <= '9') {
				j++
			}
			out = append(out, token{'i', strings.ToLower(sql[i:j])})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.' || sql[j] == 'x' || sql[j] == 'e') {
				j++
			}
			out = append(out, token{'n', sql[i:j]})
			i = j
		default:
			out = append(out, token{'p', string(c)})
			i++
		}
	}
	return out, nil
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// parseRefs reads the tables and columns of one SELECT. It is made for
// our packs, not for all of SQLite: subqueries and CTEs are read flat, and
// a CTE's columns are not checked.
func parseRefs(sql string) (sqlRefs, error) {
	toks, err := tokenize(sql)
	if err != nil {
		return sqlRefs{}, err
	}
	r := sqlRefs{aliases: map[string]string{}}
	is := func(i int, kind byte, text string) bool {
		return i < len(toks) && toks[i].kind == kind && (text == "" || toks[i].text == text)
	}
	word := func(i int) bool { return is(i, 'i', "") && !keywords[toks[i].text] }
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		switch {
		case is(i, 'i', "with") || is(i, 'p', ",") && len(r.ctes) > 0 && is(i+2, 'i', "as") && is(i+3, 'p', "("):
			if word(i+1) && is(i+2, 'i', "as") {
				r.ctes = append(r.ctes, toks[i+1].text)
				r.aliases[toks[i+1].text] = toks[i+1].text
				i++
			}
		case is(i, 'i', "from") || is(i, 'i', "join"):
			i = r.readTables(toks, i+1, word, is) - 1
		case is(i, 'i', "as") && word(i+1):
			r.outputs = append(r.outputs, toks[i+1].text)
			i++
		case word(i) && is(i+1, 'p', "("):
			i++ // a function's name
		case word(i) && is(i+1, 'p', ".") && (word(i+2) || is(i+2, 'p', "*")):
			if is(i+2, 'i', "") {
				r.columns = append(r.columns, colRef{tk.text, toks[i+2].text})
			}
			i += 2
		case word(i):
			r.columns = append(r.columns, colRef{"", tk.text})
		}
	}
	if len(r.tables) == 0 {
		return r, fmt.Errorf("no table after FROM")
	}
	return r, nil
}

// readTables reads "table [AS] [alias] [, table ...]" from i and returns
// where it stopped.
func (r *sqlRefs) readTables(toks []token, i int, word func(int) bool, is func(int, byte, string) bool) int {
	for {
		if !word(i) {
			return i // a subquery or something this reader does not follow
		}
		tb := toks[i].text
		if !slices.Contains(r.tables, tb) {
			r.tables = append(r.tables, tb)
		}
		r.aliases[tb] = tb
		i++
		if is(i, 'i', "as") {
			i++
		}
		if word(i) {
			r.aliases[toks[i].text] = tb
			i++
		}
		if !is(i, 'p', ",") {
			return i
		}
		i++
	}
}

// FuzzParseRefs: any text gives refs or an error, never a panic, and
// every alias names a table of the query or a CTE.
func FuzzParseRefs(f *testing.F) {
	f.Add("SELECT p.name, lp.port FROM listening_ports lp JOIN processes AS p USING (pid) WHERE lp.port != 0;")
	f.Add("WITH x AS (SELECT 1 AS a) SELECT a FROM x -- c\n")
	f.Add("SELECT 'it''s' AS \"q\" FROM t /* c */")
	f.Add("SELECT count(*) FROM a, b AS c WHERE c.x = 1e3")
	f.Add("SELECT ' FROM")
	f.Fuzz(func(t *testing.T, sql string) {
		r, err := parseRefs(sql)
		if err != nil {
			return
		}
		for a, tb := range r.aliases {
			if !slices.Contains(r.tables, tb) && !slices.Contains(r.ctes, tb) {
				t.Fatalf("alias %q names %q, which is no table of %v", a, tb, r.tables)
			}
		}
	})
}
