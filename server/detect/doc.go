// Package detect runs Sigma detection rules over single events as they are
// ingested.
//
// A rule goes through three stages, each its own type, so that later work can
// replace one stage without touching the others:
//
//  1. ParseRule reads the YAML (through yaml.Node, so that every error carries
//     file:line:col) into a Rule whose Detection is an abstract syntax tree:
//     named Selections of FieldTests and a condition Expr.
//  2. compile turns that tree, together with the field-name mapping of the
//     rule's log source, into a matcher tree with pre-lowered patterns.
//  3. Engine indexes the compiled rules by event dataset and runs them.
//
// Log sources are data, not code: LoadLogSources reads a file that maps a
// Sigma logsource (product, category, service) to the event datasets it
// covers and to the event field names that stand for Sigma's field names.
//
// Sigma support: detection maps and lists, fieldless keyword searches,
// null, wildcards and escapes, the full condition grammar except
// aggregations, and every modifier of the specification's modifier
// appendix: contains, startswith, endswith, all, cased, re (with i, m, s;
// Go's RE2 syntax, so look-around and backreferences are reported), cidr,
// base64, base64offset, utf16le, utf16be, utf16, wide, windash, exists,
// gt, gte, lt, lte, neq, fieldref, the time parts minute to year, and
// expand with the values Config.Placeholders gives (a placeholder it does
// not name matches nothing, and the rule loads with a warning naming it: a
// filter built on it excludes nothing). Correlation rules are left to
// package correlate (ParseRules skips them, in their own files or beside
// the rules they use); filter rules are reported as not supported yet; a
// rule with any error is skipped while the others load.
//
// Matching is indexed: rules by dataset, then by the value of their log
// source's "where" field (Sysmon's EventID), then by a prefilter that
// derives from each rule's condition the clauses it implies — sets of
// (field, literal) pairs of which the event must hold one, each literal to
// be contained in, to start or end, or to equal the lower-cased field —
// and finds every literal of a field in one pass (an Aho-Corasick automaton
// for "contains", tries walked from either end, a map for whole values;
// keyword literals in every field). A rule is evaluated only when a literal
// of each of its clauses was found, so an event meets only the few rules
// that could match it. Alerts of every single-event producer (rules here,
// indicators in package indicator) are built by NewAlert.
//
// Windows events are turned into events by the winlog sub-package; their
// datasets and the Sigma log sources that cover them are in
// detections/logsources.yml.
package detect
