//go:build cgo

// Command yarabench measures the agent's YARA scanner against the yara
// command over the same corpus, rules, libyara and thread count, in one
// run: first-scan throughput, a rescan of the unchanged corpus with the
// incremental cache, and the process's peak resident memory while
// scanning. It prints a Markdown table for docs/benchmarks.md.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"lachan/agent/yara"
)

type options struct {
	data, yaraCmd, ruleset string
	files, workers, rounds int
	seed                   uint64
	keep                   bool

	reference, agent string // the reference run (reference.go)
	fileTimeout      time.Duration
	cliFastOnly      bool
}

func main() {
	var o options
	flag.StringVar(&o.data, "data", "../shared/data", "shared test data (holds yara/)")
	flag.StringVar(&o.yaraCmd, "yara", "yara", "the yara command to compare with")
	flag.StringVar(&o.ruleset, "ruleset", "signature-base", "rule set under data/yara (its yara/ folder is loaded)")
	flag.IntVar(&o.files, "files", 2000, "generated corpus files (1 KiB to 1 MiB, log-uniform)")
	flag.IntVar(&o.workers, "workers", runtime.NumCPU(), "scan threads, ours and the command's (-p)")
	flag.IntVar(&o.rounds, "rounds", 3, "first-scan rounds each, alternating; the best of each counts")
	flag.Uint64Var(&o.seed, "seed", 1, "corpus seed")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary corpus")
	flag.StringVar(&o.reference, "reference", "", "instead: run `lachan-agent scan` and the yara command over this whole rule set (yara-rules, signature-base) and the shared targets, as the reference matches were made")
	flag.StringVar(&o.agent, "agent", "", "with -reference: the lachan-agent binary (default: built from ./agent/cmd/lachan-agent)")
	flag.DurationVar(&o.fileTimeout, "file-timeout", yara.DefaultConfig().FileTimeout, "with -reference: the agent's --file-timeout")
	flag.BoolVar(&o.cliFastOnly, "cli-fast-only", false, "with -reference: run the yara command in fast mode (-f) only, not also as the reference was made (minutes on x.txt)")
	flag.Parse()
	runFn := run
	if o.reference != "" {
		runFn = runReference
	}
	if err := runFn(o); err != nil {
		fmt.Fprintln(os.Stderr, "yarabench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	tmp, err := os.MkdirTemp("", "yarabench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(tmp)
	}
	start := time.Now()
	rules, skipped, err := compileRuleset(o)
	if err != nil {
		return err
	}
	fmt.Printf("compiled %d rules of %s (%d files skipped as yara 4.2.3 rejects them) in %s\n",
		rules.Count(), o.ruleset, skipped, time.Since(start).Round(time.Millisecond))
	peakCompile := peakRSS()
	resetPeakRSS()
	fmt.Printf("memory after compiling: %s\n", memLine())
	compiled := filepath.Join(tmp, "rules.yarc")
	if err := writeCompiled(rules, compiled); err != nil {
		return err
	}
	corpus := filepath.Join(tmp, "corpus")
	n, size, err := makeCorpus(corpus, filepath.Join(o.data, "yara", "targets"), o.files, o.seed)
	if err != nil {
		return err
	}
	fmt.Printf("corpus %s: %d files, %.1f MiB\n", corpus, n, float64(size)/(1<<20))
	if err := warm(corpus); err != nil {
		return err
	}
	// The cache does not trust files changed within the last second.
	time.Sleep(1500 * time.Millisecond)
	b := bench{o: o, rules: rules, compiled: compiled, corpus: corpus, state: filepath.Join(tmp, "state"), bytes: size, peakCompile: peakCompile}
	return b.run()
}

// compileRuleset loads data/yara/<ruleset>/yara, leaving out the files the
// compile-errors list names, as the reference run did.
func compileRuleset(o options) (*yara.Rules, int, error) {
	dir := filepath.Join(o.data, "yara")
	list, err := os.ReadFile(filepath.Join(dir, "yara-4.2.3-compile-errors.txt"))
	if err != nil {
		return nil, 0, err
	}
	hide := map[string]bool{}
	for _, l := range strings.Split(string(list), "\n") {
		if p, _, ok := strings.Cut(l, ": "); ok && strings.HasPrefix(p, o.ruleset+"/") {
			hide[p] = true
		}
	}
	rules, errs := yara.Compile(hideFS{os.DirFS(dir), hide}, o.ruleset+"/yara")
	if rules == nil {
		return nil, 0, fmt.Errorf("compile %s: %w", o.ruleset, errors.Join(errs...))
	}
	for _, e := range errs {
		fmt.Fprintln(os.Stderr, "compile:", e)
	}
	return rules, len(hide), nil
}

// hideFS leaves some files out of directory listings.
type hideFS struct {
	fs.FS
	hide map[string]bool
}

func (h hideFS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := fs.ReadDir(h.FS, name)
	return slices.DeleteFunc(ents, func(e fs.DirEntry) bool { return h.hide[path.Join(name, e.Name())] }), err
}

func writeCompiled(r *yara.Rules, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := r.WriteCompiled(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// warm reads the corpus once so that neither side pays for the disk.
func warm(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(io.Discard, f)
		return err
	})
}

// run is one timed scan: wall and CPU time, peak RSS (the command's).
type timing struct {
	wall, cpu time.Duration
	maxRSS    int64
	pairs     []string
}

// cliScan runs the yara command with the compiled rules and returns its
// times and the namespace:rule path pairs it printed.
func cliScan(o options, compiled, target string) (timing, error) {
	cmd := exec.Command(o.yaraCmd, "-C", "-w", "-e", "-r", "-p", fmt.Sprint(o.workers), compiled, target)
	t, out, errb, err := timed(cmd)
	if err != nil {
		return t, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, errb)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			t.pairs = append(t.pairs, l)
		}
	}
	slices.Sort(t.pairs)
	return t, nil
}

// timed runs cmd and returns its wall and CPU time and peak RSS, with
// what it wrote to stdout and stderr; err is cmd's, from Start or Wait.
func timed(cmd *exec.Cmd) (t timing, stdout []byte, stderr string, err error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return timing{}, nil, "", err
	}
	// The child's rusage maxrss would count this process's peak too (it
	// is copied at exec), so its own VmHWM is read while it runs.
	peak := make(chan int64)
	stop := make(chan struct{})
	go func() { peak <- pollHWM(cmd.Process.Pid, stop) }()
	err = cmd.Wait()
	t.wall = time.Since(start)
	close(stop)
	t.maxRSS = <-peak
	if err == nil {
		t.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return t, out.Bytes(), errb.String(), err
}

// pollHWM reads pid's VmHWM every 10ms until stop, keeping the last.
func pollHWM(pid int, stop <-chan struct{}) int64 {
	var last int64
	file := fmt.Sprintf("/proc/%d/status", pid)
	for {
		if b, err := os.ReadFile(file); err == nil {
			if v := statusKB(string(b), "VmHWM:"); v > 0 {
				last = v
			}
		}
		select {
		case <-stop:
			return last
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// statusKB returns a /proc status field in bytes.
func statusKB(status, key string) int64 {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

// peakRSS reads VmHWM from /proc/self/status, in bytes.
func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	return statusKB(string(b), "VmHWM:")
}

// resetPeakRSS starts VmHWM again from the current RSS (Linux 4.0+), so
// that the peak of compiling is not counted as the peak of scanning.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// memLine summarizes the resident memory lines of /proc/self/status.
func memLine() string {
	b, _ := os.ReadFile("/proc/self/status")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmHWM:", "VmRSS:", "RssAnon:", "RssFile:"} {
			if strings.HasPrefix(l, k) {
				out = append(out, strings.Join(strings.Fields(l), " "))
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out = append(out, fmt.Sprintf("Go heap in use %d kB, Go total from OS %d kB", ms.HeapInuse>>10, ms.Sys>>10))
	return strings.Join(out, ", ")
}
