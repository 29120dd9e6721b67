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
// This is a first subset of Sigma: the modifiers contains, startswith,
// endswith and all; wildcards and escapes; null; the full condition grammar
// except aggregations. Everything else is rejected with a clear "not
// supported yet" error, and the rule is skipped while the others load.
package detect
