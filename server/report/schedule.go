package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Scheduler writes, once a month has ended, a report per registered system
// for that month into a folder, signed: <dir>/<YYYY-MM>/<system>.<format>
// and its .jws. A report already there is left alone, so a restart or a
// second replica writes nothing twice, and a month missed while the server
// was down is written when it comes back.
type Scheduler struct {
	b   *Builder
	cfg ScheduleConfig
	key Signer
	now func() time.Time
	log *slog.Logger
}

// Signer signs a report's bytes (Sign with the server's report key).
type Signer func(doc []byte) []byte

// NewScheduler returns a scheduler; now is the clock (time.Now when nil).
func NewScheduler(b *Builder, cfg ScheduleConfig, sign Signer, now func() time.Time, log *slog.Logger) *Scheduler {
	if now == nil {
		now = time.Now
	}
	return &Scheduler{b: b, cfg: cfg, key: sign, now: now, log: log.With("component", "report-schedule")}
}

// LastMonth is the calendar month (UTC) before the one t falls in.
func LastMonth(t time.Time) (from, to time.Time) {
	t = t.UTC()
	to = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return to.AddDate(0, -1, 0), to
}

// Run writes the month's reports now and then every cfg.Check until ctx
// ends.
func (s *Scheduler) Run(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.Check)
	defer tick.Stop()
	for {
		if _, err := s.Once(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("monthly reports", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Once writes the reports of the month before now that are missing and
// returns the files it wrote.
func (s *Scheduler) Once(ctx context.Context) ([]string, error) {
	from, to := LastMonth(s.now())
	dir := filepath.Join(s.cfg.Dir, from.Format("2006-01"))
	systems, err := s.b.d.Systems.List(ctx)
	if err != nil {
		return nil, err
	}
	var (
		wrote []string
		errs  []error
	)
	for _, sys := range systems {
		file := filepath.Join(dir, sys.ID+"."+s.cfg.Format)
		if _, err := os.Stat(file); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		req := Request{Kind: KindSystem, ID: sys.ID, From: from, To: to, Lang: s.cfg.Lang, Format: s.cfg.Format}
		if err := s.write(ctx, req, file); err != nil {
			errs = append(errs, fmt.Errorf("system %s: %w", sys.ID, err))
			continue
		}
		s.log.Info("monthly report written", "system", sys.ID, "file", file)
		wrote = append(wrote, file)
	}
	return wrote, errors.Join(errs...)
}

// write makes one report and writes it with its signature, the signature
// first and the report last by rename, so that a report present is whole
// and signed.
func (s *Scheduler) write(ctx context.Context, req Request, file string) error {
	rep, err := s.b.Build(ctx, req)
	if err != nil {
		return err
	}
	doc, err := Render(rep, req.Format)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return fmt.Errorf("report folder: %w", err)
	}
	if err := writeFile(file+SigSuffix, s.key(doc)); err != nil {
		return err
	}
	return writeFile(file, doc)
}

// writeFile writes through a temporary file and a rename.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
