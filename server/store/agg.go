package store

import (
	"fmt"
	"strings"
	"time"
)

// AggKind names an aggregation.
type AggKind string

// The aggregations reports and the console need.
const (
	// AggTerms counts events per value of Field, largest counts first
	// (ties by value), at most Size buckets.
	AggTerms AggKind = "terms"
	// AggDateHistogram counts events per Interval of @timestamp, buckets
	// aligned to the Unix epoch in UTC, oldest first, empty buckets left out.
	AggDateHistogram AggKind = "date_histogram"
	// AggCardinality counts the distinct values of Field. The embedded
	// engine counts exactly; Elasticsearch counts exactly up to its
	// precision threshold (40,000 values) and approximately beyond.
	AggCardinality AggKind = "cardinality"
)

// Agg asks for one aggregation over the events a Query selects (the
// query's Limit and After are ignored).
type Agg struct {
	Name  string
	Kind  AggKind
	Field string
	// Size caps terms buckets (default 10, at most MaxAggSize).
	Size int
	// Interval is the date histogram's bucket width (at least a second).
	Interval time.Duration
}

// MaxAggSize bounds a terms aggregation.
const MaxAggSize = 10000

// Bucket is one bucket of a terms or date histogram aggregation. Key is
// the value (terms) or the bucket start in RFC 3339 (date histogram).
type Bucket struct {
	Key   string    `json:"key"`
	Time  time.Time `json:"time,omitempty"`
	Count int64     `json:"count"`
}

// AggResult is the answer to one Agg. Buckets for terms and date
// histograms; Value for cardinality. Other counts, for terms, is the
// number of matching events whose value fell outside the returned buckets.
type AggResult struct {
	Name    string   `json:"name"`
	Kind    AggKind  `json:"kind"`
	Buckets []Bucket `json:"buckets,omitempty"`
	Value   int64    `json:"value,omitempty"`
	Other   int64    `json:"other,omitempty"`
}

// Normalize fills defaults and checks an aggregation; engines call it
// first.
func (a Agg) Normalize() (Agg, error) {
	if a.Name == "" {
		a.Name = string(a.Kind)
	}
	switch a.Kind {
	case AggTerms, AggCardinality:
		if strings.TrimSpace(a.Field) == "" {
			return a, fmt.Errorf("aggregation %q: %s needs a field", a.Name, a.Kind)
		}
		if a.Size <= 0 {
			a.Size = 10
		}
		if a.Size > MaxAggSize {
			a.Size = MaxAggSize
		}
	case AggDateHistogram:
		if a.Interval < time.Second {
			return a, fmt.Errorf("aggregation %q: date_histogram interval %s is under a second", a.Name, a.Interval)
		}
	default:
		return a, fmt.Errorf("aggregation %q: unknown kind %q (want terms, date_histogram or cardinality)", a.Name, a.Kind)
	}
	return a, nil
}

// Data kinds group datasets for retention and for the Elasticsearch data
// streams: each kind has its own retention age.
const (
	DataEndpoint = "endpoint" // agent findings, osquery results, heartbeats
	DataNetwork  = "network"  // the sensor's flows, DNS, TLS and HTTP records
	DataAlert    = "alert"    // alerts raised by detection and correlation
)

// DataKinds lists every data kind.
var DataKinds = []string{DataEndpoint, DataNetwork, DataAlert}

// DataKindOf returns the data kind a dataset belongs to.
func DataKindOf(dataset string) string {
	switch {
	case strings.HasPrefix(dataset, "network."):
		return DataNetwork
	case dataset == "lachan.alert" || strings.HasPrefix(dataset, "lachan.alert."):
		return DataAlert
	default:
		return DataEndpoint
	}
}

// DeadLetter is an event a store could not take because a field does not
// fit the mapping (see Mapping). It is kept aside, never dropped, until it
// is replayed or deleted.
type DeadLetter struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Field  string    `json:"field"`
	Reason string    `json:"reason"`
	// Event is the event as received (its JSON form).
	Event []byte `json:"event"`
}
