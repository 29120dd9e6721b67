package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"lachan/server/forward"
	"lachan/server/incident"
	"lachan/test/harness"
)

// report is what the soak did and found.
type report struct {
	seed    uint64
	ran     time.Duration
	drained time.Duration
	kills   map[string]int
	caught  int
	crashes []string

	created, eicar int
	// stored are the finding events in the ward, once the files whose
	// finding is stored exactly once; lost have none, twice count the
	// extra events of files stored more than once, strange the findings
	// of no dropped file.
	stored, once, lost, twice, strange int
	// Alerts: one per finding, each filed into one incident.
	alerts, alertMissing, alertTwice, filed int

	// Forwarding: ward incidents, those whose latest revision the city
	// holds, revisions delivered and received, and what went wrong.
	incidents, upToDate, pending, refused int
	delivered, received                   int
	revLost, revTwice, revUnknown         int
	cityIncidents, cityMissing, cityExtra int
	cityStale                             int

	problems []string
}

func (r *report) problem(format string, args ...any) {
	if len(r.problems) < 20 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

// drain waits until everything dropped has arrived everywhere, or the
// drain time has passed, then reads the final state and fills r.
func (s *soaker) drain(ctx context.Context, r *report) error {
	start := time.Now()
	deadline := start.Add(s.o.drain)
	names := s.load.names()
	for time.Now().Before(deadline) {
		st, err := observe(ctx, s.tt, false)
		if err == nil && settled(st, len(names)) {
			break
		}
		if err != nil {
			fmt.Printf("soak: drain: %v\n", err)
		}
		if err := sleep(ctx, 3*time.Second); err != nil {
			return err
		}
	}
	r.drained = time.Since(start)
	// A late duplicate would show now.
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	if err := s.ensureUp(ctx); err != nil {
		return err
	}
	st, err := observe(ctx, s.tt, true)
	if err != nil {
		return err
	}
	r.evaluate(st, names)
	return nil
}

// settled reports whether every finding is stored and every ward
// incident's latest revision is delivered and filed in the city.
func settled(st *state, files int) bool {
	if len(st.findings) < files {
		return false
	}
	heads := outboxHeads(st.outbox)
	for _, e := range st.outbox {
		if e.State == forward.StatePending {
			return false
		}
	}
	for _, inc := range st.ward {
		if h, ok := heads[inc.ID]; !ok || !current(h, inc) {
			return false
		}
	}
	return len(fromWard(st.city)) >= len(st.ward)
}

// outboxHeads returns the latest entry of each incident's stream.
func outboxHeads(entries []forward.Entry) map[string]forward.Entry {
	heads := map[string]forward.Entry{}
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Stream, forward.StreamPrefix)
		if h, seen := heads[id]; ok && (!seen || e.Seq > h.Seq) {
			heads[id] = e
		}
	}
	return heads
}

// current reports whether h is the latest revision of inc. The API does
// not show an incident's store version, but a revision's modified is its
// updated time to the millisecond (or a millisecond past the revision
// before, when they would tie).
func current(h forward.Entry, inc incident.Incident) bool {
	return !h.Modified.Before(inc.Updated.Truncate(time.Millisecond))
}

// fromWard returns the city's incidents reported by the ward, by ID.
func fromWard(city []incident.Incident) map[string]incident.Incident {
	out := map[string]incident.Incident{}
	for _, inc := range city {
		if strings.HasPrefix(inc.Rule.ID, "remote:"+harness.WardName+":") {
			out[inc.ID] = inc
		}
	}
	return out
}

func (r *report) evaluate(st *state, names []string) {
	r.evaluateFindings(st, names)
	r.evaluateForwarding(st)
}

func (r *report) evaluateFindings(st *state, names []string) {
	r.stored = len(st.findings)
	byName := map[string][]string{}
	findingIDs := map[string]bool{}
	for _, ev := range st.findings {
		n := filepath.Base(ev.String("file.path"))
		byName[n] = append(byName[n], ev.ID)
		findingIDs[ev.ID] = true
	}
	dropped := map[string]bool{}
	for _, n := range names {
		dropped[n] = true
		switch ids := byName[n]; len(ids) {
		case 0:
			r.lost++
			r.problem("lost: no finding for %s", n)
		case 1:
			r.once++
		default:
			r.twice += len(ids) - 1
			r.problem("stored twice: %s has %d findings %v", n, len(ids), ids)
		}
	}
	for n, ids := range byName {
		if !dropped[n] {
			r.strange += len(ids)
			r.problem("finding of a file never dropped: %s", n)
		}
	}
	perSource := map[string]int{}
	for _, al := range st.alerts {
		for _, src := range al.Strings("lachan.alert.source_ids") {
			if findingIDs[src] {
				perSource[src]++
				r.alerts++
			}
		}
	}
	for id := range findingIDs {
		switch n := perSource[id]; {
		case n == 0:
			r.alertMissing++
			r.problem("finding %s raised no alert", id)
		case n > 1:
			r.alertTwice += n - 1
			r.problem("finding %s raised %d alerts", id, n)
		}
	}
	for _, inc := range st.ward {
		r.filed += inc.AlertCount
	}
}

func (r *report) evaluateForwarding(st *state) {
	r.incidents = len(st.ward)
	heads := outboxHeads(st.outbox)
	sent := map[string]bool{} // object ID and modified of each delivered revision
	for _, e := range st.outbox {
		switch e.State {
		case forward.StatePending:
			r.pending++
		case forward.StateRefused:
			r.refused++
			r.problem("refused by the city: %s: %s", e.ID, e.LastErr)
		case forward.StateDelivered:
			r.delivered++
			sent[e.Object+"@"+forward.Timestamp(e.Modified)] = true
		}
	}
	got := map[string]int{}
	for _, o := range st.received {
		got[o.String("id")+"@"+o.String("modified")]++
		r.received++
	}
	for k := range sent {
		switch n := got[k]; {
		case n == 0:
			r.revLost++
			r.problem("revision %s delivered but not in the city", k)
		case n > 1:
			r.revTwice += n - 1
			r.problem("revision %s held %d times by the city", k, n)
		}
	}
	for k, n := range got {
		if !sent[k] {
			r.revUnknown += n
			r.problem("the city holds revision %s, which the ward did not deliver", k)
		}
	}
	city := fromWard(st.city)
	r.cityIncidents = len(city)
	matched := map[string]bool{}
	for _, inc := range st.ward {
		h, ok := heads[inc.ID]
		if ok && current(h, inc) && h.State == forward.StateDelivered {
			r.upToDate++
		} else {
			r.problem("ward incident %s (updated %s) not forwarded up to date (outbox head %s %s)", inc.ID, inc.Updated, h.Modified, h.State)
		}
		if !ok {
			continue
		}
		ci, ok := city[incident.RemoteID(harness.WardName, h.Object)]
		if !ok {
			r.cityMissing++
			r.problem("ward incident %s is not in the city", inc.ID)
			continue
		}
		matched[ci.ID] = true
		if ci.AlertCount != inc.AlertCount || !ci.Updated.Equal(h.Modified.Truncate(time.Millisecond)) {
			r.cityStale++
			r.problem("city incident %s: %d alerts updated %s; ward: %d alerts, last revision %s", ci.ID, ci.AlertCount, ci.Updated, inc.AlertCount, h.Modified)
		}
	}
	for id := range city {
		if !matched[id] {
			r.cityExtra++
			r.problem("city incident %s matches no ward incident", id)
		}
	}
}

// verdict is nil when nothing was lost, duplicated or crashed.
func (r *report) verdict() error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(r.created == 0 || r.incidents < 2, "the soak proved little: %d files, %d incidents", r.created, r.incidents)
	check(r.lost+r.twice+r.strange > 0, "findings: %d lost, %d stored twice, %d of no file", r.lost, r.twice, r.strange)
	check(r.alertMissing+r.alertTwice > 0 || r.filed != r.stored, "alerts: %d missing, %d twice, %d filed into incidents for %d findings", r.alertMissing, r.alertTwice, r.filed, r.stored)
	check(r.pending+r.refused > 0 || r.upToDate != r.incidents, "outbox: %d pending, %d refused, %d of %d incidents forwarded up to date", r.pending, r.refused, r.upToDate, r.incidents)
	check(r.revLost+r.revTwice+r.revUnknown > 0, "revisions: %d lost, %d twice, %d unknown to the ward", r.revLost, r.revTwice, r.revUnknown)
	check(r.cityMissing+r.cityExtra+r.cityStale > 0, "city incidents: %d missing, %d extra, %d stale", r.cityMissing, r.cityExtra, r.cityStale)
	check(len(r.crashes) > 0, "%d processes ended by themselves", len(r.crashes))
	return errors.Join(errs...)
}

func (r *report) print(w io.Writer) {
	total := 0
	for _, n := range r.kills {
		total += n
	}
	fmt.Fprintf(w, "soak: seed %d, ran %s, drained in %s\n", r.seed, r.ran.Round(time.Second), r.drained.Round(time.Second))
	fmt.Fprintf(w, "soak: kills %d: ward %d, ward while forwarding %d (%d as an incident was queued), agent %d, city %d; crashes %d\n",
		total, r.kills[killWard], r.kills[killWardForwarding], r.caught, r.kills[killAgent], r.kills[killCity], len(r.crashes))
	fmt.Fprintf(w, "soak: findings created %d (%d EICAR, %d marker), stored %d: once %d, lost %d, stored twice %d, of no file %d\n",
		r.created, r.eicar, r.created-r.eicar, r.stored, r.once, r.lost, r.twice, r.strange)
	fmt.Fprintf(w, "soak: alerts %d for %d findings: missing %d, twice %d; filed into incidents %d\n",
		r.alerts, r.stored, r.alertMissing, r.alertTwice, r.filed)
	fmt.Fprintf(w, "soak: incidents in the ward %d, forwarded up to date %d; revisions delivered %d, received by the city %d: lost %d, twice %d, unknown to the ward %d; outbox pending %d, refused %d\n",
		r.incidents, r.upToDate, r.delivered, r.received, r.revLost, r.revTwice, r.revUnknown, r.pending, r.refused)
	fmt.Fprintf(w, "soak: city incidents from the ward %d: missing %d, extra %d, stale %d\n", r.cityIncidents, r.cityMissing, r.cityExtra, r.cityStale)
	for _, c := range r.crashes {
		fmt.Fprintf(w, "soak: crash: %s\n", c)
	}
	for _, p := range r.problems {
		fmt.Fprintf(w, "soak: problem: %s\n", p)
	}
}
