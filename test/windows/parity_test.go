package windows

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"lachan/test/shareddata"
	"lachan/test/wineprefix"
)

var slow = flag.Bool("slow", false, "also compare on the targets that take minutes (make bench)")

// slowTargets take Yara-Rules' regular expressions minutes of CPU on
// either platform (see agent/yara's reference test); make test leaves
// them out, make bench (-slow) does not.
var slowTargets = []string{"x.txt"}

// allowed are the modules the Windows agent accepts.
var allowed = []string{"pe", "elf", "math", "time"}

// knownDifferences are matches in which libyara 4.5.4 (Windows) and 4.2.3
// (Debian, Linux) disagree for a reason found and written down, by
// namespace and rule: the matches are then expected on Windows only.
var knownDifferences = map[string]string{
	// $grammer_massacre = /BADD|Bad Error Happened|/ can match the empty
	// string: libyara 4.5.4 counts that match, 4.2.3 does not, so "3 of
	// them" holds on Windows for any file with two of the other strings.
	"malware/RAT_PoetRATPython.yar\tPoetRat_Python": "a regular expression with an empty alternative",
}

var (
	skippedLine = regexp.MustCompile(`^skipped: ([^:]+?)(?::\d+)?: (.*)$`)
	refusedMod  = regexp.MustCompile(`^imports module "([a-z0-9_]+)", which this agent's YARA does not have`)
	refusedSig  = regexp.MustCompile(`^uses pe\.(signatures|is_signed|number_of_signatures), which this agent's YARA cannot compute`)
	importStmt  = regexp.MustCompile(`(?m)^\s*import\s+"([a-z0-9_]+)"`)
)

// scanResult is what one agent's `scan` said: findings as
// namespace, rule and target name; rule files left out, with the first
// error; and the summary line.
type scanResult struct {
	found   map[string]bool
	skipped map[string]string
	summary string
}

// TestWineParity compares the Windows agent under Wine with the Linux
// agent, rule set by rule set, on the shared targets.
func TestWineParity(t *testing.T) {
	exe, _, _ := agentExe(t)
	env := wineprefix.Env(t)
	data := filepath.Join(shareddata.Dir(t), "yara")
	linux := filepath.Join(workDir, "lachan-agent")
	build := exec.Command("go", "build", "-o", linux, "./agent/cmd/lachan-agent")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Linux agent: %v\n%s", err, out)
	}
	targets := targetFiles(t, filepath.Join(data, "targets"))
	timeout := 5 * time.Minute
	if *slow {
		timeout = time.Hour
	}
	for _, set := range []string{"signature-base", "yara-rules"} {
		t.Run(set, func(t *testing.T) {
			rules := filepath.Join(data, set)
			var lin, win scanResult
			// The agent's own .exe is a real PE of 11 MB that the pe rules
			// have much to say about; it is scanned on its own, so that the
			// memory guard (which skips large files once the process is
			// big) finds the process as small as it will be.
			for _, batch := range [][]string{targets, {exe}} {
				args := append([]string{"scan", "--rules", rules}, batch...)
				start := time.Now()
				l := runScan(t, timeout, nil, linux, args...)
				linTime := time.Since(start)
				start = time.Now()
				w := runScan(t, timeout, env, "wine", append([]string{exe}, args...)...)
				t.Logf("%d file(s); Linux %s in %s; Windows (Wine) %s in %s", len(batch), l.summary, linTime.Round(time.Millisecond), w.summary, time.Since(start).Round(time.Millisecond))
				lin, win = lin.merge(l), win.merge(w)
			}
			compareScans(t, rules, lin, win)
		})
	}
}

// merge adds o's findings and refusals to r's.
func (r scanResult) merge(o scanResult) scanResult {
	if r.found == nil {
		return o
	}
	for k := range o.found {
		r.found[k] = true
	}
	for k, v := range o.skipped {
		r.skipped[k] = v
	}
	return r
}

func compareScans(t *testing.T, rules string, lin, win scanResult) {
	t.Helper()
	var byModule, bySignature, linuxOnly int
	for file, msg := range win.skipped {
		if _, both := lin.skipped[file]; both {
			continue
		}
		switch m := refusedMod.FindStringSubmatch(msg); {
		case m != nil && !slices.Contains(allowed, m[1]):
			byModule++
		case refusedSig.MatchString(msg):
			bySignature++
		default:
			t.Errorf("%s: the Windows agent refuses it, the Linux agent does not, and not for a module: %s", file, msg)
		}
	}
	for file, msg := range lin.skipped {
		if _, both := win.skipped[file]; !both {
			linuxOnly++
			t.Logf("compiled by libyara 4.5.4 only (Linux: %s)", msg)
		}
	}
	// Every file importing a module outside the four is refused by name.
	refusedByName := 0
	for file := range union(lin.skipped, win.skipped, nil) {
		src, err := os.ReadFile(filepath.Join(rules, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range importStmt.FindAllStringSubmatch(string(src), -1) {
			if slices.Contains(allowed, m[1]) {
				continue
			}
			if w := refusedMod.FindStringSubmatch(win.skipped[file]); w == nil || slices.Contains(allowed, w[1]) {
				t.Errorf("%s imports %q: want it refused by name on Windows, got %q", file, m[1], win.skipped[file])
			} else {
				refusedByName++
			}
			break
		}
	}
	compared, excluded, known := 0, 0, 0
	for f := range union(nil, nil, []map[string]bool{lin.found, win.found}) {
		file := strings.SplitN(f, "\t", 2)[0]
		if _, s := lin.skipped[file]; s {
			excluded++
			continue
		}
		if _, s := win.skipped[file]; s {
			excluded++
			continue
		}
		compared++
		rule := f[:strings.LastIndexByte(f, '\t')]
		if why, ok := knownDifferences[rule]; ok {
			if lin.found[f] || !win.found[f] {
				t.Errorf("%s: known to match on Windows only (%s), but Linux %t, Windows %t", f, why, lin.found[f], win.found[f])
			}
			known++
			continue
		}
		switch {
		case !win.found[f]:
			t.Errorf("Linux only: %s", f)
		case !lin.found[f]:
			t.Errorf("Windows only: %s", f)
		}
	}
	if compared == 0 {
		t.Error("no match to compare: the comparison proves nothing")
	}
	t.Logf("matches compared: %d (equal: %t, %d of them a known difference); matches of rule files one side left out: %d; Windows refused %d file(s) for a module and %d for a pe signature field (%d checked to name the module); %d compiled by libyara 4.5.4 only",
		compared, !t.Failed(), known, excluded, byModule, bySignature, refusedByName, linuxOnly)
}

// union returns the keys of the maps given.
func union(a, b map[string]string, sets []map[string]bool) map[string]bool {
	u := map[string]bool{}
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			u[k] = true
		}
	}
	for _, m := range sets {
		for k := range m {
			u[k] = true
		}
	}
	return u
}

func runScan(t *testing.T, timeout time.Duration, env []string, name string, args ...string) scanResult {
	t.Helper()
	var out, errOut []byte
	var err error
	if env != nil {
		out, errOut, err = wineprefix.Run(env, timeout, args...)
	} else {
		cmd := exec.Command(name, args...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		timer := time.AfterFunc(timeout, func() { cmd.Process.Kill() })
		err = cmd.Run()
		timer.Stop()
		out, errOut = o.Bytes(), e.Bytes()
	}
	if err != nil {
		t.Fatalf("%s scan: %v\n%s", name, err, errOut)
	}
	r := scanResult{found: map[string]bool{}, skipped: map[string]string{}}
	for _, f := range parseFindings(t, out) {
		r.found[f.Namespace+"\t"+f.Rule+"\t"+filepath.Base(f.Path)] = true
	}
	sc := bufio.NewScanner(bytes.NewReader(errOut))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if m := skippedLine.FindStringSubmatch(line); m != nil {
			r.skipped[m[1]] = m[2]
		} else if strings.Contains(line, " rules; ") {
			r.summary = line
		}
	}
	if r.summary == "" {
		t.Fatalf("%s scan printed no summary:\n%s", name, errOut)
	}
	if !strings.Contains(r.summary, " Errors:0 ") || !strings.Contains(r.summary, " MemorySkipped:0 ") {
		t.Fatalf("%s scan left files out, so the two agents did not see the same files: %s", name, r.summary)
	}
	return r
}

func targetFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range ents {
		if !*slow && slices.Contains(slowTargets, e.Name()) {
			continue
		}
		files = append(files, filepath.Join(dir, e.Name()))
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal(fmt.Sprintf("no targets in %s", dir))
	}
	return files
}
