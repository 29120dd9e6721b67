// Package report makes the auditors' reports (layer 3 of the four-layer
// model): a system's or a unit's security report over a period, and the
// initial and final incident reports of Thông tư 20/2017/TT-BTTTT.
//
// A report is made in three steps kept apart so that each can be tested
// alone: Builder gathers a plain Report from the store (counts and
// aggregations, never a walk over every event); the renderers turn it into
// HTML (html/template) or PDF (fpdf with the DejaVu font embedded, so that
// Vietnamese survives text extraction); Sign writes a detached JWS over the
// file's bytes with the server's report key.
//
// Reports are deterministic: the same data and period give the same bytes.
// Every time printed or stamped into the file derives from the period (the
// PDF's creation date is the period's end), lists are sorted, and nothing
// random enters. The control checklist per security level (controls.yml)
// is data, evaluated against the evidence the platform holds.
package report
