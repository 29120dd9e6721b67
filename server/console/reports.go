package console

import (
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"lachan/server/report"
	"lachan/server/system"
)

// headerReportSignature is the API's header with a report's detached
// JWS (api.HeaderReportSignature; the console does not import the API).
const headerReportSignature = "X-Lachan-Report-Signature"

// reportKinds are the reports the console offers for download.
var reportKinds = []string{report.KindSystem, report.KindUnit, report.KindIncident}

// reportParams are the query parameters passed on to the API.
var reportParams = []string{"from", "to", "lang", "format", "form"}

// report downloads one report through the API's report route, which
// checks reports.read, scopes the system or incident by the person's
// units, makes, signs and audits it. With sig set the answer is the
// report's signature, FILE.jws, instead of the report.
func (c *Console) report(q req) {
	kind, id := q.r.PathValue("kind"), q.r.PathValue("id")
	if !slices.Contains(reportKinds, kind) {
		c.problem(q.w, q.r, http.StatusNotFound, "err.notfound", q.r.URL.Path)
		return
	}
	in, qs := q.r.URL.Query(), url.Values{}
	for _, k := range reportParams {
		if s := in.Get(k); s != "" {
			qs.Set(k, s)
		}
	}
	rec, err := c.exchange(q.r, q.secret, http.MethodGet, "/api/v1/reports/"+url.PathEscape(kind)+"/"+url.PathEscape(id), qs, nil)
	if err != nil {
		c.fail(q, err)
		return
	}
	name := reportFile(kind, id, qs)
	sig := rec.hdr.Get(headerReportSignature)
	h := q.w.Header()
	secure(q.w)
	h.Set("Cache-Control", "no-store")
	if in.Get("sig") != "" {
		h.Set("Content-Type", "application/jose")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".jws"}))
		_, _ = q.w.Write([]byte(sig + "\n"))
		return
	}
	h.Set("Content-Type", rec.hdr.Get("Content-Type"))
	h.Set(headerReportSignature, sig)
	// An attachment, never shown in the console's origin: an HTML report
	// carries its own styles and drawings.
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	_, _ = q.w.Write(rec.body.Bytes())
}

// reportFile names a download: kind, ID, period or form, language, in
// characters safe in any file system.
func reportFile(kind, id string, qs url.Values) string {
	parts := []string{kind, id}
	for _, k := range []string{"form", "from", "to", "lang"} {
		if s := qs.Get(k); s != "" {
			parts = append(parts, s)
		}
	}
	ext := report.FormatPDF
	if qs.Get("format") == report.FormatHTML {
		ext = "html"
	}
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, strings.Join(parts, "_"))
	return safe + "." + ext
}

// systemsData is the systems page: the registry's coverage and the
// period its report links offer first, last month.
type systemsData struct {
	system.Report
	From, To string
}

func lastMonth(now time.Time) (from, to string) {
	f, t := report.LastMonth(now)
	return f.Format(time.DateOnly), t.Format(time.DateOnly)
}
