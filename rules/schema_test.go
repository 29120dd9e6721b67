package rules

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	osqgo "github.com/osquery/osquery-go"

	"lachan/agent/osquery"
)

// schemaFile is the hand-copied part of osquery's published schema that
// the packs use.
const schemaFile = "osquery/schema.txt"

// schema maps each table to its columns.
type schema map[string][]string

func loadSchema(t *testing.T) schema {
	t.Helper()
	b, err := fs.ReadFile(FS, schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	s := schema{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		table, cols, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(table) == "" || len(strings.Fields(cols)) == 0 {
			t.Fatalf("%s:%d: want \"table: column column ...\"", schemaFile, line)
		}
		s[strings.TrimSpace(table)] = strings.Fields(cols)
	}
	return s
}

// check returns one message for each table or column of refs the schema
// does not have.
func (s schema) check(refs sqlRefs) []string {
	var out []string
	for _, tb := range refs.tables {
		if _, ok := s[tb]; !ok && !slices.Contains(refs.ctes, tb) {
			out = append(out, fmt.Sprintf("unknown table %q", tb))
		}
	}
	for _, c := range refs.columns {
		switch {
		case c.qualifier != "":
			tb, ok := refs.aliases[c.qualifier]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("column %s.%s: %q is no table or alias of the query", c.qualifier, c.name, c.qualifier))
			case slices.Contains(refs.ctes, tb):
			case s[tb] != nil && !slices.Contains(s[tb], c.name):
				out = append(out, fmt.Sprintf("unknown column %q of table %s", c.name, tb))
			}
		case slices.Contains(refs.outputs, c.name) || len(refs.ctes) > 0:
		default:
			found := false
			for _, tb := range refs.tables {
				found = found || slices.Contains(s[tb], c.name)
			}
			if !found {
				out = append(out, fmt.Sprintf("unknown column %q (in none of %s)", c.name, strings.Join(refs.tables, ", ")))
			}
		}
	}
	return out
}

// TestOsquerySchema checks every query of every pack against the schema:
// its tables (FROM, JOIN) and the columns it selects, joins and filters
// on. With LACHAN_OSQUERY_SOCKET set, the schema file itself is checked
// against that osqueryd's own tables.
func TestOsquerySchema(t *testing.T) {
	sch := loadSchema(t)
	files, _ := fs.Glob(FS, "osquery/*")
	n := 0
	for _, f := range files {
		if !isPack(f) {
			continue
		}
		p, err := osquery.LoadPack(FS, f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, q := range p.Queries {
			refs, err := parseRefs(q.SQL)
			if err != nil {
				t.Errorf("%s: query %s: %v", f, q.Name, err)
				continue
			}
			for _, msg := range sch.check(refs) {
				t.Errorf("%s: query %s: %s", f, q.Name, msg)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no queries checked")
	}
	if sock := os.Getenv("LACHAN_OSQUERY_SOCKET"); sock != "" {
		checkLive(t, sock, sch)
	}
}

// checkLive asks a real osqueryd for each table's columns.
func checkLive(t *testing.T, sock string, sch schema) {
	c, err := osqgo.NewClient(sock, 10*time.Second)
	if err != nil {
		t.Fatalf("osqueryd at %s: %v", sock, err)
	}
	defer c.Close()
	for tb, cols := range sch {
		resp, err := c.Query("PRAGMA table_info(" + tb + ")")
		if err != nil || resp.Status.Code != 0 {
			t.Errorf("osqueryd: table_info(%s): %v %v", tb, err, resp.GetStatus())
			continue
		}
		var have []string
		for _, row := range resp.Response {
			have = append(have, row["name"])
		}
		if len(have) == 0 {
			t.Logf("osqueryd has no table %s on this platform", tb)
			continue
		}
		for _, col := range cols {
			if !slices.Contains(have, col) {
				t.Logf("osqueryd's %s has no column %s on this platform", tb, col)
			}
		}
	}
}

func isPack(f string) bool {
	ext := path.Ext(f)
	return (ext == ".conf" || ext == ".json") && f != schemaFile
}

// TestSchemaCheckFails shows the check names what is wrong.
func TestSchemaCheckFails(t *testing.T) {
	sch := schema{"processes": {"pid", "name", "path"}, "listening_ports": {"pid", "port"}}
	cases := []struct {
		sql  string
		want []string
	}{
		{"SELECT pid, name FROM processes", nil},
		{"SELECT p.name, lp.port FROM listening_ports lp JOIN processes AS p ON p.pid = lp.pid WHERE lp.port > 0 ORDER BY p.name", nil},
		{"SELECT count(*) AS n, name FROM processes GROUP BY name ORDER BY n DESC", nil},
		{"SELECT * FROM processes WHERE name LIKE '%from nowhere%'", nil},
		{"SELECT nme FROM processes", []string{`unknown column "nme"`}},
		{"SELECT * FROM processez", []string{`unknown table "processez"`}},
		{"SELECT p.cmdline FROM processes AS p", []string{`unknown column "cmdline" of table processes`}},
		{"SELECT x.name FROM processes", []string{`"x" is no table or alias`}},
		{"SELECT pid FROM processes, listening_ports USING (port)", nil},
		{"SELECT pid FROM processes JOIN users USING (uid)", []string{`unknown table "users"`, `unknown column "uid"`}},
	}
	for _, c := range cases {
		refs, err := parseRefs(c.sql)
		if err != nil {
			t.Errorf("%q: %v", c.sql, err)
			continue
		}
		got := sch.check(refs)
		if len(got) != len(c.want) {
			t.Errorf("%q: %v, want %d message(s) %v", c.sql, got, len(c.want), c.want)
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%q: %q, want it to say %q", c.sql, got[i], w)
			}
		}
	}
}
