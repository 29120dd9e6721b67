package shareddata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// RegressionEvents decodes every JSON object of every .json file under dir
// (SigmaHQ's regression data: one or several concatenated objects a
// file), in file-name order, numbers kept as json.Number.
func RegressionEvents(dir string) ([]map[string]any, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("regression data: %w", err)
	}
	sort.Strings(files)
	var out []map[string]any
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(src))
		dec.UseNumber()
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err == io.EOF {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

// Benign returns a copy of a nested Windows event (Event.EventData) whose
// event data strings are ordinary values of the same kind (paths stay
// paths; GUIDs and hashes, neither suspicious nor benign, stay as they
// are), so the event keeps its channel, event ID and fields while most
// rules stay silent on it.
func Benign(obj map[string]any) map[string]any {
	src, _ := json.Marshal(obj)
	var cp map[string]any
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	_ = dec.Decode(&cp)
	ev, _ := cp["Event"].(map[string]any)
	data, _ := ev["EventData"].(map[string]any)
	for k, v := range data {
		s, ok := v.(string)
		switch {
		case !ok || s == "" || s == "-":
		case strings.Contains(s, `\`):
			data[k] = `C:\Program Files\Contoso\Ledger\ledger-` + strings.ToLower(k) + `.dat`
		case strings.HasPrefix(s, "{") || strings.Count(s, "-") >= 4:
		default:
			data[k] = "ledger " + strings.ToLower(k)
		}
	}
	return cp
}
