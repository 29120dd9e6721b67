package report

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/internal/logging"
)

func TestSchedulerWritesLastMonthOnce(t *testing.T) {
	fx := newFixture(t)
	dir := t.TempDir()
	pub, key, _ := ed25519.GenerateKey(nil)
	now := time.Date(2026, 12, 1, 0, 5, 0, 0, time.UTC)
	cfg := ScheduleConfig{Dir: dir, Lang: LangVI, Format: FormatPDF, Check: time.Hour}
	s := NewScheduler(fx.builder, cfg, func(b []byte) []byte { return Sign(b, key) }, func() time.Time { return now }, logging.Discard())
	wrote, err := s.Once(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "2026-11", fxSystem+".pdf")
	if len(wrote) != 1 || wrote[0] != want {
		t.Fatalf("wrote %v, want [%s]", wrote, want)
	}
	doc, _ := os.ReadFile(want)
	sig, _ := os.ReadFile(want + SigSuffix)
	if err := Verify(doc, sig, pub); err != nil {
		t.Fatalf("the scheduled report does not verify: %v", err)
	}
	// The same file as asked for by hand for November.
	rep, err := fx.builder.Build(context.Background(), fxRequest(KindSystem, fxSystem, LangVI, FormatPDF))
	if err != nil {
		t.Fatal(err)
	}
	byHand, _ := PDF(rep)
	if string(byHand) != string(doc) {
		t.Error("the scheduled report differs from the one made by hand for the same month")
	}
	// Later the same month: nothing new.
	now = now.Add(20 * 24 * time.Hour)
	if wrote, err := s.Once(context.Background()); err != nil || len(wrote) != 0 {
		t.Fatalf("second run wrote %v (%v)", wrote, err)
	}
	// The next month: December's report.
	now = time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC)
	if wrote, err := s.Once(context.Background()); err != nil || len(wrote) != 1 || filepath.Base(filepath.Dir(wrote[0])) != "2026-12" {
		t.Fatalf("January run wrote %v (%v)", wrote, err)
	}
}

func TestLastMonth(t *testing.T) {
	for _, c := range []struct{ now, from, to string }{
		{"2026-12-01T00:00:00Z", "2026-11-01", "2026-12-01"},
		{"2026-03-31T23:59:00Z", "2026-02-01", "2026-03-01"},
		{"2027-01-15T12:00:00+07:00", "2026-12-01", "2027-01-01"},
	} {
		now, _ := time.Parse(time.RFC3339, c.now)
		from, to := LastMonth(now)
		if from.Format(time.DateOnly) != c.from || to.Format(time.DateOnly) != c.to {
			t.Errorf("%s: got %s..%s, want %s..%s", c.now, from.Format(time.DateOnly), to.Format(time.DateOnly), c.from, c.to)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Schedule.Dir, c.Schedule.Format, c.AgentMinFraction = "/tmp/x", "docx", 0
	err := c.Validate()
	for _, want := range []string{"report.schedule.format", "report.agent_min_fraction"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
