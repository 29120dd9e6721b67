package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"lachan/internal/event"
	"lachan/server/correlate"
	"lachan/server/detect"
	"lachan/server/detect/winlog"
)

func detectCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "detect [--rules DIR]... FILE...",
		Short: "Run detection rules over event files and print each alert as one JSON line",
		Long: "Read events from the files (\"-\" for standard input): the platform's own JSON lines,\n" +
			"Windows event JSON (nested Event.System/EventData or flat, several objects per file)\n" +
			"and .evtx files. Run the rules of the --rules directories (default: the shipped\n" +
			"detections) and print each alert as one JSON line. Rules that do not load and records\n" +
			"that cannot be read are reported on standard error; the rest still run.",
		Args: cobra.MinimumNArgs(1),
		RunE: runDetect,
	}
	c.Flags().StringArray("rules", nil, "rule directory (repeatable)")
	addLogSourcesFlag(c)
	addPlaceholdersFlag(c)
	addAttackFlag(c)
	return c
}

func runDetect(cmd *cobra.Command, files []string) error {
	dirs, _ := cmd.Flags().GetStringArray("rules")
	e, errs, err := loadRuleDirs(cmd, dirs)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	set, cerrs, err := loadCorrelations(dirs, e)
	if err != nil {
		return err
	}
	errs = append(errs, cerrs...)
	// Without a store: windows live as long as the command and are closed
	// at the end of the input, and an aggregation without a timeframe
	// counts over the whole input, as hayabusa counts it.
	ccfg := correlate.DefaultConfig()
	ccfg.AggregationWindow = correlate.MaxAggregationWindow
	corr, err := correlate.New(set, nil, ccfg, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		fmt.Fprintf(stderr, "lachan detect: %d rule errors (see `lachan rules check`); %d rules loaded\n", len(errs), len(e.Rules()))
	}
	batchGC()
	d := newDetectRun(e, corr, cmd.OutOrStdout(), stderr)
	for _, f := range files {
		if err := d.file(cmd.Context(), f, cmd.InOrStdin()); err != nil {
			d.w.Flush() // what was found before the error
			return err
		}
	}
	if err := d.flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "lachan detect: %d events, %d alerts, %d unreadable records\n", d.events, d.alerts, d.bad)
	return nil
}

// batchGC lets the heap grow to five times what is live (GOGC=400)
// between collections, unless GOGC is set. The command holds the compiled
// rules (about 65 MB with all of SigmaHQ's) and little else for long,
// while each event leaves a few kilobytes of garbage; at the default every
// collection marks the rules again after about as much garbage, which cost
// a fifth of the CPU over benign events. The price is a peak heap of a few
// hundred megabytes.
func batchGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// detectRun is one run of lachan detect: the rules, the correlator, where
// alerts go and what was counted.
type detectRun struct {
	engine              *detect.Engine
	corr                *correlate.Correlator
	w                   *bufio.Writer
	stderr              io.Writer
	events, alerts, bad int
	// direct is set when no correlation rule is loaded: alerts are then
	// written straight from the matches, never built as events.
	direct bool
	// brief is set when the events may be read without their ID, which
	// only an alert needs, and with values that last only while they are
	// handled (winlog.ReadJSONBrief): with direct alerts, which keep
	// nothing of an event, and no rule testing the ID.
	brief bool
	enc   detect.AlertEncoder
	buf   []byte
}

// outBuffer is the size of the output's buffer. Alerts run to about 2.6
// kilobytes an event over dense logs, and writing them to a file in
// 64-kilobyte writes cost a third more system time than in 256-kilobyte
// ones (0.50 against 0.37 CPU-s over 200,000 events on ext4, where
// every write takes the inode's lock and updates its times); 4 megabytes
// cost four times as much, the kernel holding the writer back on its
// dirty pages.
const outBuffer = 256 << 10

func newDetectRun(e *detect.Engine, corr *correlate.Correlator, out, stderr io.Writer) *detectRun {
	direct := corr.Set().Len() == 0
	return &detectRun{
		engine: e, corr: corr, w: bufio.NewWriterSize(out, outBuffer), stderr: stderr,
		direct: direct, brief: direct && !e.Tests(event.FieldID),
	}
}

// file runs the rules over the events of one file ("-" for stdin).
func (d *detectRun) file(ctx context.Context, f string, stdin io.Reader) error {
	if err := readEventFile(f, stdin, d.brief, d.handler(ctx, f)); err != nil {
		return fmt.Errorf("%s: %w", f, err)
	}
	return d.w.Flush()
}

// handler returns the winlog handler for the records of file f. Alerts
// are buffered; from standard input, which may be a live stream, those of
// each event are flushed at once.
func (d *detectRun) handler(ctx context.Context, f string) winlog.Handler {
	path := any(f) // boxed once for every event of the file
	return func(ev event.Event, err error) error {
		if err != nil {
			d.bad++
			fmt.Fprintf(d.stderr, "%s: %v\n", f, err)
			return nil
		}
		d.events++
		var rec fieldValue // the record's own log.file.path, for its ID
		if f != "-" {
			if ev.ID == "" {
				rec.v, rec.ok = ev.Fields["log.file.path"]
			}
			ev.Set("log.file.path", path)
		}
		ms := d.engine.Match(ev)
		if len(ms) == 0 && d.direct {
			return ctx.Err()
		}
		if ev.ID == "" {
			withID(&ev, f, path, rec)
		}
		if err := d.alertsOf(ev, ms); err != nil {
			return err
		}
		if f == "-" {
			if err := d.w.Flush(); err != nil {
				return err
			}
		}
		return ctx.Err()
	}
}

// alertRoom is the free space of the output buffer below which it is
// flushed before an alert is encoded into it. An alert of SigmaHQ's rules
// takes about two kilobytes; a longer one outgrows the free space and is
// written through a copy, as any slice is.
const alertRoom = 8 << 10

// fieldValue is a field's value and whether the field was there.
type fieldValue struct {
	v  any
	ok bool
}

// withID gives ev, read without its ID, the ID it is read with
// otherwise: that of the fields it was read with, where the file's path
// (f, and path, the same as a field value) replaced the record's own
// log.file.path (rec).
func withID(ev *event.Event, f string, path any, rec fieldValue) {
	if f != "-" {
		delete(ev.Fields, "log.file.path")
		if rec.ok {
			ev.Fields["log.file.path"] = rec.v
		}
	}
	ev.ID = winlog.EventID(*ev)
	if f != "-" {
		ev.Set("log.file.path", path)
	}
}

// alertsOf writes the alerts of the matches on ev.
func (d *detectRun) alertsOf(ev event.Event, ms []detect.Match) error {
	if d.direct {
		for i, m := range ms {
			if d.w.Available() < alertRoom {
				if err := d.w.Flush(); err != nil {
					return err
				}
			}
			// Encoded into the output buffer's free space, which Write
			// then takes without a copy.
			b := d.w.AvailableBuffer()
			var err error
			if i == 0 {
				b, err = d.enc.Append(b, m, ev)
			} else {
				b, err = d.enc.AppendNext(b, m, ev)
			}
			if err != nil {
				return err
			}
			d.alerts++
			if err := jsonSafe(d.w, append(b, '\n')); err != nil {
				return err
			}
		}
		return nil
	}
	found := make([]event.Event, 0, len(ms))
	for _, m := range ms {
		found = append(found, m.Alert(ev))
	}
	// Correlation alerts list the events they group in
	// lachan.alert.source_ids and lachan.correlation.events.
	for _, a := range d.corr.Observe(ev, found) {
		if err := d.write(a); err != nil {
			return err
		}
	}
	return nil
}

// write writes one alert event as a JSON line.
func (d *detectRun) write(a event.Event) error {
	d.alerts++
	var err error
	if d.buf, err = a.AppendJSON(d.buf[:0]); err != nil {
		return err
	}
	return jsonSafe(d.w, append(d.buf, '\n'))
}

// flush writes the alerts of correlation windows still open at the end,
// then everything buffered.
func (d *detectRun) flush() error {
	for _, a := range d.corr.Flush() {
		if err := d.write(a); err != nil {
			return err
		}
	}
	return d.w.Flush()
}

// readEventFile picks the reader by extension: .evtx is binary, anything
// else is a JSON stream, read by winlog.ReadJSONBrief with brief.
func readEventFile(name string, stdin io.Reader, brief bool, h winlog.Handler) error {
	readJSON := winlog.ReadJSON
	if brief {
		readJSON = winlog.ReadJSONBrief
	}
	if name == "-" {
		return readJSON(stdin, h)
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if strings.EqualFold(filepath.Ext(name), ".evtx") {
		return winlog.ReadEVTX(f, h)
	}
	return readJSON(f, h)
}
