//go:build cgo

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"lachan/agent/yara"
)

// The reference run: `lachan-agent scan` (the binary, as a person runs it)
// and the yara command over one whole rule set and the shared targets, the
// way yara-4.2.3-reference-matches.tsv was made — every rule file that
// yara 4.2.3 compiles, each in its own namespace, the external variables
// empty — each as a child process whose wall time, CPU time and peak RSS
// (VmHWM, polled) are measured, and every rule × file pair of each
// compared with the reference.

// refRoots is where each rule set's rule files are under data/yara, as in
// the reference.
var refRoots = map[string]string{"yara-rules": "yara-rules", "signature-base": "signature-base/yara"}

// runReference runs the reference comparison for o.reference.
func runReference(o options) error {
	root, ok := refRoots[o.reference]
	if !ok {
		return fmt.Errorf("-reference %q: one of yara-rules, signature-base", o.reference)
	}
	data := filepath.Join(o.data, "yara")
	ruleDir, targets := filepath.Join(data, root), filepath.Join(data, "targets")
	want, err := readReferenceTSV(filepath.Join(data, "yara-4.2.3-reference-matches.tsv"), o.reference, root)
	if err != nil {
		return err
	}
	files, skipped, indexes, err := cliRuleFiles(data, o.reference, root)
	if err != nil {
		return err
	}
	agent := o.agent
	if agent == "" {
		tmp, err := os.MkdirTemp("", "yarabench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		agent = filepath.Join(tmp, "lachan-agent")
		build := exec.Command("go", "build", "-o", agent, "./agent/cmd/lachan-agent")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build the agent (run from the project root, or give -agent): %w", err)
		}
	}
	fmt.Printf("%s: %d rule files for the yara command (%d it rejects, %d index files left out); targets %s\n",
		o.reference, len(files), skipped, indexes, targets)
	fmt.Printf("load average before: %s\n", loadavg())

	// The agent and the command in fast mode take seconds: the best of
	// o.rounds alternating runs each. The command as the reference was
	// made takes minutes on x.txt: once.
	// The agent is given the rule set twice: the same rule files as the
	// command (copied into a temporary folder under the same relative
	// paths, so the namespaces match), and the whole folder as a person
	// would give it, where it finds and leaves out the files libyara
	// rejects itself.
	same, err := os.MkdirTemp("", "yarabench-rules-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(same)
	if err := copyRuleFiles(ruleDir, same, files); err != nil {
		return err
	}
	var ours, whole, fast timing
	for round := range max(1, o.rounds) {
		a, err := agentScan(agent, same, targets, o.fileTimeout)
		if err != nil {
			return err
		}
		w, err := agentScan(agent, ruleDir, targets, o.fileTimeout)
		if err != nil {
			return err
		}
		c, err := cliRefScan(o, ruleDir, files, targets, true)
		if err != nil {
			return err
		}
		ours, whole, fast = best(ours, a, round == 0), best(whole, w, round == 0), best(fast, c, round == 0)
	}
	rows := []refRow{
		{"`lachan-agent scan`, the command's rule files", ours},
		{"`lachan-agent scan`, the whole folder (53 files it leaves out)", whole},
		{fmt.Sprintf("`yara -f -p %d` (fast mode)", o.workers), fast},
	}
	if !o.cliFastOnly {
		c, err := cliRefScan(o, ruleDir, files, targets, false)
		if err != nil {
			return err
		}
		rows = append(rows, refRow{fmt.Sprintf("`yara -p %d` (as the reference was made)", o.workers), c})
	}
	fmt.Printf("load average after: %s\n\n", loadavg())
	reportReference(o, want, rows)
	return nil
}

type refRow struct {
	name string
	t    timing
}

func reportReference(o options, want []string, rows []refRow) {
	agent := rows[0].t
	fmt.Printf("best of %d alternating rounds for the first three rows (wall and CPU each), one run for the fourth\n\n", max(1, o.rounds))
	fmt.Println("| run | wall | CPU | peak RSS | rule × file pairs | = reference |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %.1f MiB | %d | %v |\n", r.name, r.t.wall.Round(10*time.Millisecond),
			r.t.cpu.Round(10*time.Millisecond), float64(r.t.maxRSS)/(1<<20), len(r.t.pairs), slices.Equal(r.t.pairs, want))
	}
	fmt.Printf("\nreference: %d pairs\n", len(want))
	for _, r := range rows[2:] {
		fmt.Printf("agent wall / %s wall: %.3f (target ≤ 1: %s)\n", r.name, agent.wall.Seconds()/r.t.wall.Seconds(), verdict(agent.wall <= r.t.wall))
	}
	fmt.Printf("agent peak RSS %.1f MiB (target ≤ 150 MB: %s); exact: %s\n", float64(agent.maxRSS)/(1<<20),
		verdict(agent.maxRSS <= 150e6), verdict(slices.Equal(agent.pairs, want)))
	for _, r := range rows {
		if !slices.Equal(r.t.pairs, want) {
			fmt.Printf("%s differs from the reference: extra %v, missing %v\n", r.name, minus(r.t.pairs, want), minus(want, r.t.pairs))
		}
	}
	fmt.Printf("\ncommand: %s\n", strings.Join(os.Args, " "))
}

// copyRuleFiles copies the rule files (slash paths under from) to the
// same paths under to.
func copyRuleFiles(from, to string, files []string) error {
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(from, filepath.FromSlash(f)))
		if err != nil {
			return err
		}
		dst := filepath.Join(to, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// minus returns the elements of a not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// agentScan runs `lachan-agent scan` and returns its pairs as
// "namespace\trule\tfile name".
func agentScan(agent, ruleDir, targets string, timeout time.Duration) (timing, error) {
	cmd := exec.Command(agent, "scan", "--rules", ruleDir, "--file-timeout", timeout.String(), targets)
	t, out, err := measure(cmd)
	if err != nil {
		return t, err
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var f yara.Finding
		if err := dec.Decode(&f); err != nil {
			return t, fmt.Errorf("agent output: %w", err)
		}
		t.pairs = append(t.pairs, f.Namespace+"\t"+f.Rule+"\t"+filepath.Base(f.Path))
	}
	slices.Sort(t.pairs)
	return t, nil
}

// cliRefScan runs the yara command over the rule files, each in its own
// namespace (its path under ruleDir, as the agent names it), with the
// agent's external variables defined empty.
func cliRefScan(o options, ruleDir string, files []string, targets string, fast bool) (timing, error) {
	args := []string{"-w", "-e", "-p", fmt.Sprint(o.workers)}
	if fast {
		args = append(args, "-f")
	}
	for _, v := range []string{"filename", "filepath", "extension", "filetype", "owner"} {
		args = append(args, "-d", v+"=")
	}
	for _, f := range files {
		args = append(args, f+":"+filepath.Join(ruleDir, filepath.FromSlash(f)))
	}
	cmd := exec.Command(o.yaraCmd, append(args, targets)...)
	t, out, err := measure(cmd)
	if err != nil {
		return t, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "namespace:rule path"
		nsRule, p, ok := strings.Cut(sc.Text(), " ")
		i := strings.LastIndexByte(nsRule, ':')
		if !ok || i < 0 {
			return t, fmt.Errorf("yara output: %q", sc.Text())
		}
		t.pairs = append(t.pairs, nsRule[:i]+"\t"+nsRule[i+1:]+"\t"+filepath.Base(p))
	}
	slices.Sort(t.pairs)
	return t, nil
}

// measure runs cmd, polling its peak RSS, and returns its standard output.
func measure(cmd *exec.Cmd) (timing, []byte, error) {
	t, out, errb, err := timed(cmd)
	if err != nil {
		return t, nil, fmt.Errorf("%s: %w: %s", cmd.Args[0], err, lastLines(errb, 5))
	}
	fmt.Fprintf(os.Stderr, "%s: %s wall, %s CPU, peak %.1f MiB; %s\n", filepath.Base(cmd.Args[0]), t.wall.Round(10*time.Millisecond),
		t.cpu.Round(10*time.Millisecond), float64(t.maxRSS)/(1<<20), lastLines(errb, 1))
	return t, out, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// cliRuleFiles lists the rule files under data/root (slash paths relative
// to it) that the reference compiled: not those yara 4.2.3 rejects, not
// the index files.
func cliRuleFiles(data, ruleset, root string) (files []string, skipped, indexes int, err error) {
	list, err := os.ReadFile(filepath.Join(data, "yara-4.2.3-compile-errors.txt"))
	if err != nil {
		return nil, 0, 0, err
	}
	reject := map[string]bool{}
	for _, l := range strings.Split(string(list), "\n") {
		if p, _, ok := strings.Cut(l, ": "); ok && strings.HasPrefix(p, ruleset+"/") {
			reject[p] = true
		}
	}
	fsys := os.DirFS(data)
	err = fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (path.Ext(p) != ".yar" && path.Ext(p) != ".yara") {
			return err
		}
		if reject[p] {
			skipped++
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if _, ok := yara.IncludesOnly(string(b)); ok {
			indexes++
			return nil
		}
		files = append(files, strings.TrimPrefix(p, root+"/"))
		return nil
	})
	return files, skipped, indexes, err
}

// readReferenceTSV returns the reference's pairs for ruleset as
// "namespace\trule\tfile name", the namespace relative to root.
func readReferenceTSV(file, ruleset, root string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		cols := strings.Split(l, "\t")
		if len(cols) != 4 {
			return nil, fmt.Errorf("%s:%d: %d columns, want 4", file, i+1, len(cols))
		}
		if i == 0 || cols[0] != ruleset {
			continue
		}
		ns, ok := strings.CutPrefix(cols[1], root+"/")
		if !ok {
			return nil, errors.New(file + ": rule file outside " + root + ": " + cols[1])
		}
		out = append(out, ns+"\t"+cols[2]+"\t"+path.Base(cols[3]))
	}
	slices.Sort(out)
	return out, nil
}

// loadavg is /proc/loadavg's first three fields.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
