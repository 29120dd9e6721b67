package daemon

import (
	"errors"
	"strings"
	"testing"
	"time"

	"lachan/agent/client"
	"lachan/agent/ship"
	"lachan/internal/event"
	"lachan/internal/logging"
	"lachan/internal/spool"
)

// TestTelemetryShedBeforeFindings fills the spool with osquery rows: past
// 80% they are refused and counted, while findings still go in.
func TestTelemetryShedBeforeFindings(t *testing.T) {
	sc := spool.DefaultConfig()
	sc.Dir, sc.Sync, sc.MaxBytes, sc.SegmentBytes = t.TempDir(), false, 1<<20, 256<<10
	sp, err := spool.Open(sc, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	d := &Daemon{cfg: Config{Spool: sc}, log: logging.Discard(), sp: sp, cl: &client.Client{}, rules: &ruleSet{}}
	d.shipper = ship.New(ship.DefaultConfig(), sp, nil, "", logging.Discard())
	row := func(i int) event.Event {
		ev := event.New(event.DatasetOsquery, time.Now())
		ev.Set("osquery.columns.cmdline", strings.Repeat("x", 1000))
		return ev
	}
	shed := 0
	for i := 0; i < 2000; i++ {
		if err := d.emit(row(i)); errors.Is(err, ErrShed) {
			shed++
		} else if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	if shed == 0 || float64(sp.Bytes()) > 0.81*float64(sc.MaxBytes) {
		t.Fatalf("shed %d rows; spool at %d of %d bytes", shed, sp.Bytes(), sc.MaxBytes)
	}
	for i := 0; i < 50; i++ {
		f := event.New(event.DatasetYARA, time.Now())
		f.Set("file.path", strings.Repeat("p", 500))
		if err := d.emit(f); err != nil {
			t.Fatalf("finding %d refused with the spool at %d bytes: %v", i, sp.Bytes(), err)
		}
	}
	st := d.Status()
	if st.Shed != int64(shed) || len(st.Errors) == 0 {
		t.Fatalf("status does not report the shedding: %+v", st)
	}
}
