package elastic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// outcome is what became of one bulk operation.
type outcome uint8

const (
	outRetry   outcome = iota // not taken yet: send again later
	outCreated                // 201: stored now
	outExists                 // 409: already stored (a retry, or a second copy)
	outRefused                // 400: the document does not fit the mapping
)

// bulkItem is one item of a bulk answer.
type bulkItem struct {
	Index  string     `json:"_index"`
	ID     string     `json:"_id"`
	Status int        `json:"status"`
	Error  *errorBody `json:"error"`
}

func (it bulkItem) outcome() outcome {
	switch {
	case it.Status == 200 || it.Status == 201:
		return outCreated
	case it.Status == 409:
		return outExists
	case it.Status == 400:
		return outRefused
	}
	return outRetry
}

// parseBulkResponse reads a bulk answer that must hold want items, one
// per operation sent, in order.
func parseBulkResponse(body []byte, want int) ([]bulkItem, error) {
	var resp struct {
		Errors *bool             `json:"errors"`
		Items  []json.RawMessage `json:"items"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&resp); err != nil {
		return nil, fmt.Errorf("bulk answer: %w", err)
	}
	if resp.Errors == nil {
		return nil, errors.New("bulk answer: no errors flag")
	}
	if len(resp.Items) != want {
		return nil, fmt.Errorf("bulk answer: %d items for %d operations", len(resp.Items), want)
	}
	out := make([]bulkItem, len(resp.Items))
	for i, raw := range resp.Items {
		var byOp map[string]bulkItem
		if err := json.Unmarshal(raw, &byOp); err != nil {
			return nil, fmt.Errorf("bulk answer: item %d: %w", i, err)
		}
		if len(byOp) != 1 {
			return nil, fmt.Errorf("bulk answer: item %d: %d operations, want one", i, len(byOp))
		}
		for _, it := range byOp {
			if it.Status < 100 || it.Status > 599 {
				return nil, fmt.Errorf("bulk answer: item %d: status %d", i, it.Status)
			}
			out[i] = it
		}
	}
	return out, nil
}

// fieldRE finds the field an Elasticsearch mapping error names:
// "failed to parse field [source.port] of type [long]…",
// "mapper [x] cannot be changed from type…".
var fieldRE = regexp.MustCompile(`(?:field|mapper) \[([^\]]{1,256})\]`)

// refusal returns the field and reason of a refused item.
func refusal(it bulkItem) (field, reason string) {
	if it.Error == nil {
		return "", fmt.Sprintf("refused with status %d", it.Status)
	}
	reason = it.Error.Type + ": " + it.Error.Reason
	for e, depth := it.Error, 0; e != nil && depth < 8; e, depth = e.CausedBy, depth+1 {
		if m := fieldRE.FindStringSubmatch(e.Reason); m != nil {
			return m[1], reason
		}
	}
	return "", reason
}
