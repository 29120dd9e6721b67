package content

import (
	"errors"
	"sort"
	"strings"

	"lachan/server/detect"
)

// maxLeaveOutRounds bounds LeaveOut: a correlation rule that names a rule
// left out fails in the next round, and so on; real chains are short.
const maxLeaveOutRounds = 5

// LeaveOut drops from p every Sigma file that does not load (detection or
// correlation rule), recording each with its reason in the Sigma part's
// LeftOut, so that a pack built from a published rule set holds what the
// server runs and says what it does not. Errors without a file are kept
// for Check to report.
func (c Checker) LeaveOut(p Pack) Pack {
	for range maxLeaveOutRounds {
		r := Report{}
		c.checkSigma(p, &r)
		bad := map[string]string{}
		for _, err := range r.Errors {
			var pe *detect.Error
			if !errors.As(err, &pe) {
				continue
			}
			if f, ok := strings.CutPrefix(pe.File, KindSigma+"/"); ok {
				if _, seen := bad[f]; !seen {
					bad[f] = err.Error()
				}
			}
		}
		if len(bad) == 0 {
			return p
		}
		p = p.without(KindSigma, bad)
	}
	return p
}

// without removes files of a kind and records them in the part.
func (p Pack) without(kind string, drop map[string]string) Pack {
	var files, kept []File
	for _, f := range p.Files {
		if f.Kind == kind {
			if _, ok := drop[f.Path]; ok {
				continue
			}
			kept = append(kept, f)
		}
		files = append(files, f)
	}
	parts := append([]Part(nil), p.Manifest.Parts...)
	for i := range parts {
		if parts[i].Kind != kind {
			continue
		}
		parts[i].Files, parts[i].SHA256 = len(kept), partHash(kept)
		left := append([]string(nil), parts[i].LeftOut...)
		for _, why := range drop {
			left = append(left, why)
		}
		sort.Strings(left)
		parts[i].LeftOut = left
	}
	p.Files, p.Manifest.Parts = files, parts
	return p
}

// LeaveOut drops the files of a kind named in drop (path in the part →
// reason) and records each reason in the part's LeftOut: for a builder
// that leaves out files for reasons of its own (a licence, an index file).
// A reason whose file is not in the pack is recorded all the same, so
// that files never copied in are named too.
func (p Pack) LeaveOut(kind string, drop map[string]string) Pack {
	if len(drop) == 0 {
		return p
	}
	return p.without(kind, drop)
}
