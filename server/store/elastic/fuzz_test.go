package elastic

import (
	"testing"
)

// FuzzParseBulkResponse feeds arbitrary answers to the bulk answer reader:
// it must never panic, and what it accepts must hold exactly the items
// asked for with statuses in range.
func FuzzParseBulkResponse(f *testing.F) {
	seeds := []string{
		`{"took":30,"errors":false,"items":[{"create":{"_index":"test","_id":"1","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"status":201,"_seq_no":0,"_primary_term":1}}]}`,
		`{"took":3,"errors":true,"items":[{"create":{"_index":"t","_id":"1","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[1]: version conflict, document already exists (current version [1])","index_uuid":"x","shard":"0","index":"t"}}}]}`,
		`{"took":3,"errors":true,"items":[{"create":{"_index":"t","_id":"1","status":400,"error":{"type":"document_parsing_exception","reason":"[1:2] failed to parse field [a] of type [long]","caused_by":{"type":"illegal_argument_exception","reason":"x"}}}}]}`,
		`{"took":3,"errors":true,"items":[{"create":{"_index":"t","_id":"1","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected"}}}]}`,
		`{"errors":false,"items":[]}`,
		`{"items":[{"create":{},"index":{}}]}`,
		`[]`, `null`, ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s), 1)
	}
	f.Fuzz(func(t *testing.T, body []byte, want int) {
		if want < 0 || want > 1000 {
			return
		}
		items, err := parseBulkResponse(body, want)
		if err != nil {
			return
		}
		if len(items) != want {
			t.Fatalf("%d items for %d operations", len(items), want)
		}
		for _, it := range items {
			if it.Status < 100 || it.Status > 599 {
				t.Fatalf("status %d accepted", it.Status)
			}
			it.outcome()
			refusal(it)
		}
	})
}

// FuzzSplitOps feeds arbitrary buffer records to the reader the drainer
// uses; what it accepts must re-join to the record.
func FuzzSplitOps(f *testing.F) {
	f.Add([]byte("{\"create\":{\"_index\":\"t-events-network\",\"_id\":\"a\"}}\n{\"a\":1}\n"))
	f.Add([]byte("{\"create\":{}}\n"))
	f.Add([]byte("x\ny\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, err := splitOps(data)
		if err != nil {
			return
		}
		var joined []byte
		for _, o := range ops {
			joined = append(joined, o.lines...)
		}
		if string(joined) != string(data) {
			t.Fatalf("operations join to %q, record was %q", joined, data)
		}
	})
}
