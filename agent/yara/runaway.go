//go:build cgo

package yara

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"time"

	goyara "lachan/agent/yara/libyara"
)

// Naming the rule behind a scan that ran out of time. libyara says only
// that the file's time limit was reached, not which of thousands of rules
// spent it, and Debian's libyara is built without its rule profiling. So
// the file is scanned again with each rule file alone, each scan bounded
// by Config.RunawayLimit; the rule files that run out of that limit on
// their own (or, when none does, the slowest) are then scanned rule by
// rule in the same way. Each rule
// file is compiled again for this, one at a time, from the sources the
// rule set was compiled from (see costsOfRules for how a file is cut into
// its rules): a few seconds of compiling for a rule set
// like Yara-Rules, and a few megabytes, only when a file times out.

const (
	// maxRunawayFiles stops the search by rule file once this many have
	// run out of the limit alone: they are named, and the search costs
	// at most this many limits in time-outs.
	maxRunawayFiles = 4
	// maxRulesTried bounds the rule-by-rule search within one file.
	maxRulesTried = 64
	// maxRunawayNames bounds the rules named for one file.
	maxRunawayNames = 8
)

// ruleCost is how long one rule file, or one rule, took on the file.
type ruleCost struct {
	name     string
	took     time.Duration
	timedOut bool
}

// slowest keeps the costs that timed out, or else the single slowest.
func slowest(costs []ruleCost) []ruleCost {
	slices.SortStableFunc(costs, func(a, b ruleCost) int { return int(b.took - a.took) })
	var out []ruleCost
	for _, c := range costs {
		if c.timedOut {
			out = append(out, c)
		}
	}
	if len(out) == 0 && len(costs) > 0 {
		out = costs[:1]
	}
	return out
}

// runawayRules names the rules that ran away on the file at p, as
// described above; an empty result means the rule set does not know its
// sources or ctx ended.
func (r *Rules) runawayRules(ctx context.Context, p string, cfg Config) []string {
	if r == nil || r.fsys == nil || cfg.RunawayLimit <= 0 {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	var files []ruleCost
	timedOut := 0
	for _, rf := range r.files {
		if ctx.Err() != nil || timedOut >= maxRunawayFiles {
			break
		}
		c := r.costOfFile(f, p, fi, cfg, rf)
		if c.timedOut {
			timedOut++
		}
		files = append(files, c)
	}
	var names []string
	for _, rf := range slowest(files) {
		if ctx.Err() != nil {
			break
		}
		for _, c := range slowest(r.costsOfRules(ctx, f, p, fi, cfg, rf.name)) {
			names = append(names, c.name)
		}
	}
	if len(names) > maxRunawayNames {
		names = append(names[:maxRunawayNames], fmt.Sprintf("(%d more)", len(names)-maxRunawayNames))
	}
	return names
}

// costOfFile scans the open file with one rule file's rules alone.
func (r *Rules) costOfFile(f *os.File, p string, fi fs.FileInfo, cfg Config, file string) ruleCost {
	yr, err := compileOne(r.fsys, file)
	if err != nil {
		return ruleCost{name: file}
	}
	defer yr.Destroy()
	took, out := r.timeScan(yr, f, p, fi, cfg)
	return ruleCost{name: file, took: took, timedOut: out}
}

// costsOfRules scans the open file once for each rule of one rule file
// compiled alone. Disabling the others would not do: libyara 4.2 still
// looks for a disabled rule's strings, which is where the time goes. So
// the file's text is cut before each line that starts a rule, and each
// piece is compiled with what precedes the first rule (imports,
// comments). A piece that does not compile alone (a rule using another
// rule, a cut inside a comment) leaves the whole file named instead.
func (r *Rules) costsOfRules(ctx context.Context, f *os.File, p string, fi fs.FileInfo, cfg Config, file string) []ruleCost {
	b, err := fs.ReadFile(r.fsys, file)
	if err != nil {
		return []ruleCost{{name: file}}
	}
	head, pieces := splitRules(string(b))
	if len(pieces) == 0 || len(pieces) > maxRulesTried {
		return []ruleCost{{name: file}}
	}
	var costs []ruleCost
	for _, piece := range pieces {
		if ctx.Err() != nil {
			break
		}
		c, err := newCompiler()
		if err != nil {
			return []ruleCost{{name: file}}
		}
		err = addFile(c, r.fsys, ruleFile{path: file, src: head + piece}, nil)
		var yr *goyara.Rules
		if err == nil {
			yr, err = c.GetRules()
		}
		c.Destroy()
		if err != nil {
			return []ruleCost{{name: file}}
		}
		var names []string
		for _, rl := range yr.GetRules() {
			if !rl.IsPrivate() {
				names = append(names, rl.Namespace()+":"+rl.Identifier())
			}
		}
		took, out := r.timeScan(yr, f, p, fi, cfg)
		yr.Destroy()
		if len(names) == 1 {
			costs = append(costs, ruleCost{name: names[0], took: took, timedOut: out})
		}
	}
	return costs
}

// ruleStart finds the lines that begin a rule.
var ruleStart = regexp.MustCompile(`(?m)^[ \t]*(?:(?:private|global)[ \t]+)*rule[ \t]+[A-Za-z_]`)

// splitRules cuts src before each line that starts a rule: head is what
// comes before the first, pieces one rule each (as far as lines tell).
func splitRules(src string) (head string, pieces []string) {
	at := ruleStart.FindAllStringIndex(src, -1)
	if len(at) == 0 {
		return src, nil
	}
	head = src[:at[0][0]]
	for i, a := range at {
		end := len(src)
		if i+1 < len(at) {
			end = at[i+1][0]
		}
		pieces = append(pieces, src[a[0]:end])
	}
	return head, pieces
}

// timeScan scans the open file with yr under cfg.RunawayLimit, as the
// scanner would (fast mode, the file's variables), and says how long it
// took and whether it ran out of time.
func (r *Rules) timeScan(yr *goyara.Rules, f *os.File, p string, fi fs.FileInfo, cfg Config) (time.Duration, bool) {
	sc, err := goyara.NewScanner(yr)
	if err != nil {
		return 0, false
	}
	defer sc.Destroy()
	sc.SetTimeout(cfg.RunawayLimit)
	sc.SetFlags(goyara.ScanFlagsFastMode)
	if err := r.setFileVariables(sc, f, p, fi, cfg.FileVariables); err != nil {
		return 0, false
	}
	start := time.Now()
	err = sc.ScanFileDescriptor(f.Fd())
	return time.Since(start), errors.Is(err, goyara.ErrScanTimeout)
}

// compileOne compiles one rule file alone, as Compile checked it.
func compileOne(fsys fs.FS, p string) (*goyara.Rules, error) {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, err
	}
	c, err := newCompiler()
	if err != nil {
		return nil, err
	}
	defer c.Destroy()
	if err := addFile(c, fsys, ruleFile{path: p, src: string(b)}, nil); err != nil {
		return nil, err
	}
	return c.GetRules()
}
