package console_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"lachan/server/pki"
	"lachan/server/report"
	"lachan/server/system"
)

// TestReportDownloads: the systems page offers last month's report of
// each system and the incident page the two TT 20/2017 forms to a role
// with reports.read; each downloads as a PDF attachment whose signature,
// in the header and as the .jws, verifies with the server's report key.
// A responder, without reports.read, gets no link and no report.
func TestReportDownloads(t *testing.T) {
	e := newEnv(t)
	sys := system.System{ID: "mot-cua", Name: system.Name{VI: "Hệ thống một cửa", EN: "One-stop system"}, Owner: "ward-1", Level: 3}
	if _, _, err := system.NewRegistry(e.st, nil, nil).Put(context.Background(), sys, "test"); err != nil {
		t.Fatal(err)
	}
	id := e.raise("ward-1", "pc-1", "pc-1", "r1")
	ca, err := pki.LoadOrCreate(e.cfg.PKIDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := ca.ReportSigner().Public().(ed25519.PublicKey)

	a := e.addUser("lan", "analyst")
	b := e.browser()
	b.login("lan", a.Password, "mật-khẩu-rất-dài-1")
	from, to := report.LastMonth(time.Now())
	p := b.get("/systems")
	for _, want := range []string{`action="/reports/system/mot-cua"`, `name="from" value="` + from.Format(time.DateOnly) + `"`,
		`name="to" value="` + to.Format(time.DateOnly) + `"`, `name="sig" value="1"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("systems page lacks %s", want)
		}
	}
	p = b.get("/incidents/" + id)
	link := func(f string) string { return `href="/reports/incident/` + id + `?form=` + f + `&amp;lang=vi"` }
	if !strings.Contains(p.Body, link("initial")) || strings.Contains(p.Body, link("final")) {
		t.Errorf("open incident's page: want the initial form's link and not the final's")
	}
	p = b.post("/incidents/"+id+"/resolve", url.Values{"csrf": {formToken(t, p.Body)}, "resolution": {"true_positive"}, "note": {"xong"}}, nil)
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: %d\n%s", p.StatusCode, p.Body)
	}
	if p = b.get("/incidents/" + id); !strings.Contains(p.Body, link("initial")) || !strings.Contains(p.Body, link("final")) {
		t.Errorf("resolved incident's page lacks a form's link")
	}

	period := "from=" + from.Format(time.DateOnly) + "&to=" + to.Format(time.DateOnly)
	for _, path := range []string{"/reports/system/mot-cua?format=pdf&lang=en&" + period, "/reports/incident/" + id + "?form=final&lang=vi"} {
		doc := b.get(path)
		if doc.StatusCode != 200 || doc.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(doc.Body, "%PDF-") {
			t.Fatalf("%s: %d %q %.40q", path, doc.StatusCode, doc.Header.Get("Content-Type"), doc.Body)
		}
		if cd := doc.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".pdf") {
			t.Errorf("%s: Content-Disposition %q", path, cd)
		}
		head := doc.Header.Get("X-Lachan-Report-Signature")
		if err := report.Verify([]byte(doc.Body), []byte(head), pub); err != nil {
			t.Errorf("%s: the signature header does not verify: %v", path, err)
		}
		jws := b.get(path + "&sig=1")
		if jws.StatusCode != 200 || !strings.Contains(jws.Header.Get("Content-Disposition"), ".pdf.jws") {
			t.Fatalf("%s .jws: %d %q", path, jws.StatusCode, jws.Header.Get("Content-Disposition"))
		}
		if err := report.Verify([]byte(doc.Body), []byte(jws.Body), pub); err != nil {
			t.Errorf("%s: the .jws does not verify: %v", path, err)
		}
		changed := bytes.Replace([]byte(doc.Body), []byte("%PDF-"), []byte("%PDF_"), 1)
		if report.Verify(changed, []byte(jws.Body), pub) == nil {
			t.Errorf("%s: the .jws verifies a changed file", path)
		}
	}
	if !auditHas(t, e, "lan", "report.make", "system/mot-cua") {
		t.Error("the download is not in the audit trail as report.make")
	}

	r := e.addUser("hoa", "responder", "ward-1")
	rb := e.browser()
	rb.login("hoa", r.Password, "mật-khẩu-rất-dài-3")
	if p := rb.get("/systems"); p.StatusCode != 200 || strings.Contains(p.Body, "/reports/") {
		t.Errorf("responder's systems page: %d, offers a report link: %v", p.StatusCode, strings.Contains(p.Body, "/reports/"))
	}
	if p := rb.get("/incidents/" + id); p.StatusCode != 200 || strings.Contains(p.Body, "/reports/") {
		t.Errorf("responder's incident page: %d, offers a report link: %v", p.StatusCode, strings.Contains(p.Body, "/reports/"))
	}
	if p := rb.get("/reports/incident/" + id + "?form=initial"); p.StatusCode != http.StatusForbidden || strings.HasPrefix(p.Body, "%PDF") {
		t.Errorf("responder's download: %d, want 403", p.StatusCode)
	}
}
