package winlog

import (
	"strings"
	"testing"

	"lachan/internal/event"
)

// TestBriefEventIDShapes reads records one after another with one brief
// flattener, each differing from the one before in what the ID's plan
// must notice: the same member names with a host or a value missing, a
// value the conversion rewrites, a field a handed member gives, members
// in another order. checkFlat requires each ID to be the one reading the
// record whole gives.
func TestBriefEventIDShapes(t *testing.T) {
	base := `{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"pc",` +
		`"EventRecordID":7,"Correlation":"c","TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},` +
		`"EventData":{"Image":"C:\\x.exe","ProcessId":4242,"Hashes":"0x1f"}}}`
	records := []string{
		base,
		base,
		strings.Replace(base, `"Computer":"pc"`, `"Computer":""`, 1),        // no host.name
		strings.Replace(base, `"Correlation":"c"`, `"Correlation":null`, 1), // one member fewer
		strings.Replace(base, `"Correlation":"c"`, `"Correlation":"d"`, 1),
		strings.Replace(base, `"EventID":1`, `"EventID":"1"`, 1),                         // rewritten by the conversion
		strings.Replace(base, `"Image":"C:\\x.exe"`, `"Image":{"#text":"C:\\y.exe"}`, 1), // handed
		base,
		strings.Replace(base, `"EventData":{`, `"EventData":{"Blob":{"#text":"b"},`, 1), // the same items, one handed
		base,
		strings.Replace(base, `"Image":"C:\\x.exe","ProcessId":4242`, `"ProcessId":4242,"Image":"C:\\x.exe"`, 1),
		strings.Replace(base, `"Image":"C:\\x.exe","ProcessId":4242`, `"Image":"C:\\x.exe","ProcessID":4242`, 1),
		strings.Replace(base, `"EventData":{`, `"EventData":{"log.file.path":"own",`, 1),
		base,
	}
	f := flattener{brief: true}
	for i, src := range records {
		if !checkFlat(t, &f, []byte(src)) {
			t.Fatalf("record %d declined: %s", i, src)
		}
	}
}

// TestBriefEventIDCollision gives a record the plan of another shape, as
// a collision of their hashes would: the plan must be checked name by
// name, and the ID must still be the one reading the record whole gives.
func TestBriefEventIDCollision(t *testing.T) {
	a := `{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"pc",` +
		`"EventRecordID":7,"TimeCreated":{"SystemTime":"2026-11-02T08:00:00Z"}},"EventData":{"Image":"C:\\x.exe","ProcessId":4242}}}`
	for _, b := range []string{
		strings.Replace(a, `"ProcessId":4242`, `"ProcessID":4242`, 1), // another name
		strings.Replace(a, `"Computer":"pc"`, `"Computer":""`, 1),     // no host.name
	} {
		f := flattener{brief: true}
		if !checkFlat(t, &f, []byte(a)) {
			t.Fatal("declined")
		}
		if len(f.plans.byShape) != 1 {
			t.Fatalf("%d plans after one record", len(f.plans.byShape))
		}
		var planA *idPlan
		for _, pl := range f.plans.byShape {
			planA = pl
		}
		ev, _, err, ok := f.convert([]byte(b))
		if !ok || err != nil {
			t.Fatalf("%s: declined or %v", b, err)
		}
		// Every hash of b's shape finds a's plan.
		for sets := range uint32(1) << len(idSets) {
			f.plans.byShape[shapeHash(f.items, sets)] = planA
		}
		var whole event.Event
		err = ReadJSON(strings.NewReader(b), func(ev event.Event, err error) error {
			whole = ev
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if id := f.eventID(ev); id != whole.ID {
			t.Errorf("%s: ID %s, want %s", b, id, whole.ID)
		}
	}
}
