// Package indicator keeps the indicators of compromise an operator or an
// upper tier hands the server — file hashes, domain names, IP addresses and
// networks, URLs — and finds them in events.
//
// Indicators arrive as STIX 2.1 bundles (ParseSTIX, which takes the subset
// of the pattern language that names one observable value per comparison,
// OR-ed together) or as plain lists, one value a line with the type
// inferred (ParsePlain). A Set holds them for matching on ingest: Match
// returns one alert event per indicator found in an event, in the shape the
// Sigma engine (package detect) gives its alerts, with rule.id
// "indicator:<type>", so that alerts from both file into incidents alike.
// Sweep looks back over stored events for indicators that have just
// arrived, since the events that carry them were often stored before the
// indicator was known.
//
// A Set given a store keeps every indicator as a store entity of kind
// "indicator", so a restart (or another replica) sees the same set.
package indicator
