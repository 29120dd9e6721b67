package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"lachan/server/correlate"
	"lachan/test/shareddata"
)

// TestDetectEVTXMatchesJSON runs lachan detect's handler, with every
// SigmaHQ rule, over each SigmaHQ regression .evtx file and over the JSON
// rendering of the same records beside it: the alerts must be the same,
// in the same order, member for member, but log.file.path (the file's
// name). One difference is the JSON rendering's and is allowed, counted:
// it trims trailing white space from text (Windows, the .evtx reader and
// the agent keep it), so such text, and the IDs of the events that hold
// it, may differ by that alone.
func TestDetectEVTXMatchesJSON(t *testing.T) {
	e, set := sigmaHQ(t)
	root := filepath.Join(shareddata.Dir(t), "sigma", "sigmahq", "regression_data")
	var files []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".evtx") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		shareddata.Missing(t, "no .evtx files under %s", root)
	}
	run := func(path string) []map[string]any {
		corr, err := correlate.New(set, nil, correlate.DefaultConfig(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		var out, stderr bytes.Buffer
		d := newDetectRun(e, corr, &out, &stderr)
		if err := d.file(context.Background(), path, nil); err != nil {
			t.Fatal(err)
		}
		if err := d.flush(); err != nil {
			t.Fatal(err)
		}
		if d.bad > 0 || d.events == 0 {
			t.Errorf("%s: %d events, %d unreadable: %s", path, d.events, d.bad, stderr.String())
		}
		var alerts []map[string]any
		dec := json.NewDecoder(&out)
		for {
			var a map[string]any
			if err := dec.Decode(&a); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			delete(a, "log.file.path")
			alerts = append(alerts, a)
		}
		return alerts
	}
	total, trimmed := 0, 0
	for _, f := range files {
		fromEVTX, fromJSON := run(f), run(strings.TrimSuffix(f, ".evtx")+".json")
		rel := filepath.Base(filepath.Dir(f))
		if len(fromEVTX) != len(fromJSON) {
			t.Errorf("%s: %d alerts from .evtx, %d from JSON", rel, len(fromEVTX), len(fromJSON))
			continue
		}
		for i := range fromEVTX {
			total++
			a, b := fromEVTX[i], fromJSON[i]
			if reflect.DeepEqual(a, b) {
				continue
			}
			if diff := alertDiff(a, b); diff != "" {
				t.Errorf("%s alert %d: %s", rel, i, diff)
				continue
			}
			trimmed++
		}
	}
	if total == 0 {
		t.Fatal("no alerts")
	}
	t.Logf("%d files, %d alerts alike from .evtx and JSON; %d differ only by trailing white space the JSON rendering trimmed", len(files), total, trimmed)
}

// alertDiff describes how two alerts differ beyond trailing white space
// in text and, where there is such text, the event IDs that hash it; it
// is empty when they do not.
func alertDiff(evtx, js map[string]any) string {
	var diffs, ids []string
	trimmed := false
	for k, v := range evtx {
		w, ok := js[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s = %v from .evtx only", k, v))
		case reflect.DeepEqual(v, w):
		case sameTrimmed(v, w):
			trimmed = true
		case k == "lachan.alert.event_id" || k == "lachan.alert.source_ids" || k == "event.id":
			ids = append(ids, k)
		default:
			diffs = append(diffs, fmt.Sprintf("%s = %#v from .evtx, %#v from JSON", k, v, w))
		}
	}
	for k, w := range js {
		if _, ok := evtx[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s = %v from JSON only", k, w))
		}
	}
	if !trimmed {
		for _, k := range ids {
			diffs = append(diffs, fmt.Sprintf("%s = %v from .evtx, %v from JSON", k, evtx[k], js[k]))
		}
	}
	return strings.Join(diffs, "; ")
}

// sameTrimmed tells values alike but for trailing white space the JSON
// rendering trimmed from text, at any depth.
func sameTrimmed(evtx, js any) bool {
	switch v := evtx.(type) {
	case string:
		w, ok := js.(string)
		return ok && strings.TrimRight(v, " \t\r\n") == w
	case map[string]any:
		w, ok := js.(map[string]any)
		if !ok || len(v) != len(w) {
			return false
		}
		for k := range v {
			if !reflect.DeepEqual(v[k], w[k]) && !sameTrimmed(v[k], w[k]) {
				return false
			}
		}
		return true
	case []any:
		w, ok := js.([]any)
		if !ok || len(v) != len(w) {
			return false
		}
		for i := range v {
			if !reflect.DeepEqual(v[i], w[i]) && !sameTrimmed(v[i], w[i]) {
				return false
			}
		}
		return true
	}
	return false
}
