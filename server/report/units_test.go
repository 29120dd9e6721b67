package report

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"html"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/server/store"
	"lachan/server/system"
)

func TestSameInputsSameBytes(t *testing.T) {
	fx := newFixture(t)
	for _, c := range goldenCases() {
		for _, format := range []string{FormatPDF, FormatHTML} {
			req := c.req
			req.Format = format
			var first []byte
			for i := range 2 {
				rep, err := fx.builder.Build(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				b, err := Render(rep, format)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = b
				} else if !bytes.Equal(first, b) {
					t.Errorf("%s %s: two renders of the same data differ", c.name, format)
				}
			}
		}
	}
	// A second store loaded with the same data gives the same file too.
	other := newFixture(t)
	req := goldenCases()[0].req
	a, _ := fx.builder.Build(context.Background(), req)
	b, _ := other.builder.Build(context.Background(), req)
	pa, _ := PDF(a)
	pb, _ := PDF(b)
	if !bytes.Equal(pa, pb) {
		t.Error("the same data in two stores give different PDFs")
	}
}

func TestVerifyCatchesAChangedByte(t *testing.T) {
	fx := newFixture(t)
	rep, err := fx.builder.Build(context.Background(), goldenCases()[0].req)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := PDF(rep)
	if err != nil {
		t.Fatal(err)
	}
	pub, key, _ := ed25519.GenerateKey(nil)
	sig := Sign(doc, key)
	if err := Verify(doc, sig, pub); err != nil {
		t.Fatalf("a fresh signature does not verify: %v", err)
	}
	for _, at := range []int{0, len(doc) / 2, len(doc) - 1} {
		changed := slices.Clone(doc)
		changed[at] ^= 0x01
		if err := Verify(changed, sig, pub); !errors.Is(err, ErrBadSignature) {
			t.Errorf("byte %d changed: got %v, want ErrBadSignature", at, err)
		}
	}
	if err := Verify(append(slices.Clone(doc), '\n'), sig, pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a byte added: got %v", err)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	if err := Verify(doc, sig, otherPub); !errors.Is(err, ErrWrongKey) {
		t.Errorf("another key: got %v, want ErrWrongKey", err)
	}
	if !bytes.Equal(sig, Sign(doc, key)) {
		t.Error("signing the same file twice gives two signatures")
	}
}

func TestVerifyRefusesMalformedSignatures(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	good := string(Sign([]byte("x"), key))
	head := strings.Split(good, ".")[0]
	for name, jws := range map[string]string{
		"empty":         "",
		"attached":      head + ".eA." + strings.Split(strings.TrimSpace(good), ".")[2],
		"two parts":     head + ".",
		"bad header":    "!!..AAAA",
		"alg none":      b64.EncodeToString([]byte(`{"alg":"none","kid":"`+KeyID(pub)+`"}`)) + "..",
		"short sig":     head + "..AAAA",
		"header not js": b64.EncodeToString([]byte("nope")) + "..AAAA",
	} {
		if err := Verify([]byte("x"), []byte(jws), pub); !errors.Is(err, ErrSignatureForm) {
			t.Errorf("%s: got %v, want ErrSignatureForm", name, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(nil)
	f.Add([]byte("doc"), Sign([]byte("doc"), key))
	f.Add([]byte(""), []byte("a..b"))
	f.Fuzz(func(t *testing.T, doc, jws []byte) {
		err := Verify(doc, jws, pub)
		if err == nil && !bytes.Equal(bytes.TrimSpace(jws), bytes.TrimSpace(Sign(doc, key))) {
			t.Fatalf("a signature not made by the key verified: %q", jws)
		}
	})
}

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	vi, en := CatalogKeys(LangVI), CatalogKeys(LangEN)
	for _, k := range vi {
		if _, ok := catalogs[LangEN][k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
	for _, k := range en {
		if _, ok := catalogs[LangVI][k]; !ok {
			t.Errorf("vi lacks %q", k)
		}
	}
	// Every reason and advice the evaluators can give is in both.
	for _, ev := range EvidenceNames() {
		for _, lang := range []string{LangVI, LangEN} {
			if _, ok := catalogs[lang]["todo."+ev]; !ok {
				t.Errorf("%s lacks the advice todo.%s", lang, ev)
			}
		}
	}
}

// TestEveryReportKeyIsInTheCatalogs renders every kind, in both languages,
// over the fixture and over empty data, and fails on a key either lacks.
func TestEveryReportKeyIsInTheCatalogs(t *testing.T) {
	fx := newFixture(t)
	for _, c := range goldenCases() {
		for _, lang := range []string{LangVI, LangEN} {
			req := c.req
			req.Lang = lang
			if c.req.Kind == KindIncident {
				for _, form := range []string{FormInitial, FormFinal} {
					req.Form = form
					req.ID = "inc-20261103-eicar0001"
					checkKeys(t, fx, req)
				}
				continue
			}
			checkKeys(t, fx, req)
		}
	}
}

func checkKeys(t *testing.T, fx fixture, req Request) {
	t.Helper()
	rep, err := fx.builder.Build(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// The HTML walks the same blocks as the PDF, cheaper; the PDF's own
	// keys (its footer) are checked by the golden test.
	_, tl, err := renderHTML(rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.missing) > 0 {
		t.Errorf("%s %s %s: the catalog lacks %v", req.Kind, req.Form, req.Lang, slices.Sorted(mapKeys(tl.missing)))
	}
	// Every value word the report prints is translated too.
	for _, s := range rep.Systems {
		for _, c := range s.Controls {
			if _, ok := catalogs[req.Lang][c.Reason.Key]; !ok {
				t.Errorf("%s lacks the reason %q", req.Lang, c.Reason.Key)
			}
		}
	}
}

func TestBuiltInControlsLoadAndNameKnownEvidence(t *testing.T) {
	cs := DefaultControls()
	known := EvidenceNames()
	for level := 1; level <= 5; level++ {
		areas := map[string]bool{}
		for _, c := range cs {
			if !slices.Contains(known, c.Evidence) {
				t.Errorf("%s names evidence %q the evaluator does not know", c.ID, c.Evidence)
			}
			if c.Applies(level) {
				areas[c.Area] = true
			}
		}
		for _, a := range Areas {
			if !areas[a] {
				t.Errorf("level %d has no control in area %s", level, a)
			}
		}
	}
}

func TestParseControlsErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"unknown evidence", "controls:\n  - {id: X, area: logging, levels: [1], refs: [r], text: {vi: a, en: b}, evidence: crystal_ball}\n", `c.yml:2:5: control "X": evidence "crystal_ball": the evaluator knows`},
		{"bad level", "controls:\n  - {id: X, area: logging, levels: [6], refs: [r], text: {vi: a, en: b}, evidence: endpoint_logs}\n", "levels: 6 is not a security level"},
		{"unknown key", "controls:\n  - {id: X, aera: logging}\n", "field aera not found"},
		{"twice", "controls:\n  - {id: X, area: logging, levels: [1], refs: [r], text: {vi: a, en: b}, evidence: endpoint_logs}\n  - {id: X, area: logging, levels: [1], refs: [r], text: {vi: a, en: b}, evidence: endpoint_logs}\n", `c.yml:3:5: control "X" is given twice`},
		{"no english", "controls:\n  - {id: X, area: logging, levels: [1], refs: [r], text: {vi: a}, evidence: endpoint_logs}\n", "vi and en are both needed"},
		{"empty", "controls: []\n", "c.yml: no controls"},
		{"not yaml", "controls: [\n", "c.yml: yaml:"},
	} {
		_, err := ParseControls("c.yml", []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func FuzzParseControls(f *testing.F) {
	f.Add([]byte("controls:\n  - {id: X, area: logging, levels: [1], refs: [r], text: {vi: a, en: b}, evidence: endpoint_logs}\n"))
	f.Add([]byte("controls:\n  - {id: X}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ParseControls("fuzz.yml", b)
		if err == nil && len(cs) == 0 {
			t.Fatal("no error and no controls")
		}
	})
}

func TestRequestValidate(t *testing.T) {
	ok := fxRequest(KindSystem, "s", LangVI, FormatPDF)
	for _, c := range []struct {
		name string
		edit func(*Request)
		want string
	}{
		{"kind", func(r *Request) { r.Kind = "weekly" }, `kind "weekly"`},
		{"lang", func(r *Request) { r.Lang = "fr" }, `language "fr"`},
		{"format", func(r *Request) { r.Format = "docx" }, `format "docx"`},
		{"backwards", func(r *Request) { r.From, r.To = r.To, r.From }, "is not after"},
		{"too long", func(r *Request) { r.To = r.From.Add(400 * 24 * time.Hour) }, "longer than a year"},
		{"no period", func(r *Request) { r.From = time.Time{} }, "a period is needed"},
		{"form", func(r *Request) { r.Kind, r.Form = KindIncident, "draft" }, `form "draft"`},
	} {
		r := ok
		c.edit(&r)
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseDay("from", "2026-13-01"); err == nil || !strings.Contains(err.Error(), `from "2026-13-01"`) {
		t.Errorf("bad date: %v", err)
	}
}

func TestScopeHidesOtherUnits(t *testing.T) {
	fx := newFixture(t)
	for _, req := range []Request{
		fxRequest(KindSystem, fxSystem, LangVI, FormatPDF),
		fxRequest(KindUnit, fxUnit, LangVI, FormatPDF),
		fxRequest(KindIncident, "inc-20261103-eicar0001", LangVI, FormatPDF),
	} {
		req.Units = []string{fxEmpty}
		if _, err := fx.builder.Build(context.Background(), req); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s seen from another ward: got %v, want not found", req.Kind, err)
		}
	}
}

func TestFinalReportNeedsTheResponseToEnd(t *testing.T) {
	fx := newFixture(t)
	req := fxRequest(KindIncident, "inc-20261120-cred0004", LangVI, FormatPDF)
	if _, err := fx.builder.Build(context.Background(), req); err == nil || !strings.Contains(err.Error(), "resolve it first") {
		t.Fatalf("got %v", err)
	}
}

// TestWriteSamples writes the fixture's reports as files when
// REPORT_SAMPLES names a folder: the pages shown in docs/reports/ are
// their pages drawn by pdftoppm (the README's "Reports" says how).
func TestWriteSamples(t *testing.T) {
	dir := os.Getenv("REPORT_SAMPLES")
	if dir == "" {
		t.Skip("REPORT_SAMPLES is not set")
	}
	fx := newFixture(t)
	for _, c := range goldenCases() {
		rep, err := fx.builder.Build(context.Background(), c.req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := PDF(rep)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.name+".pdf"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBareSystemIsReportedHonestly: a system registered with nothing
// behind it (no agents, ranges, decision, SOC, assessor or link) reads as
// such: empty states and unmet controls, never a 100% of nothing.
func TestBareSystemIsReportedHonestly(t *testing.T) {
	fx := newFixture(t)
	bare := system.System{ID: "trong", Name: system.Name{VI: "Hệ thống trống"}, Owner: fxEmpty, Level: 2}
	putJSON(t, fx.st, system.KindSystem, bare.ID, bare)
	for _, lang := range []string{LangVI, LangEN} {
		rep, err := fx.builder.Build(context.Background(), Request{Kind: KindSystem, ID: bare.ID, From: periodFrom, To: periodTo, Lang: lang, Format: FormatHTML})
		if err != nil {
			t.Fatal(err)
		}
		page, tl, err := renderHTML(rep)
		if err != nil {
			t.Fatal(err)
		}
		if len(tl.missing) > 0 {
			t.Errorf("%s: the catalog lacks %v", lang, slices.Sorted(mapKeys(tl.missing)))
		}
		_, text, _ := strings.Cut(string(page), "</style>") // the style sheet's widths are not figures
		for _, want := range []string{catalogs[lang]["empty.agents"], catalogs[lang]["empty.incidents"], catalogs[lang]["todo.decision"]} {
			if !strings.Contains(text, html.EscapeString(want)) {
				t.Errorf("%s: the report lacks %q", lang, want)
			}
		}
		if strings.Contains(text, "100%") {
			t.Errorf("%s: a bare system's report claims 100%% of something", lang)
		}
		for _, c := range rep.Systems[0].Controls {
			if c.Status == Met {
				t.Errorf("%s: control %s met with nothing behind it (%s)", lang, c.Control.ID, c.Reason.Key)
			}
		}
	}
}

// spyStore records the event queries a report makes.
type spyStore struct {
	store.Store
	mu      sync.Mutex
	queries []store.Query
}

func (s *spyStore) SearchEvents(ctx context.Context, q store.Query) (store.Page, error) {
	s.mu.Lock()
	s.queries = append(s.queries, q)
	s.mu.Unlock()
	return s.Store.SearchEvents(ctx, q)
}

func (s *spyStore) Aggregate(ctx context.Context, q store.Query, aggs []store.Agg) ([]store.AggResult, error) {
	s.mu.Lock()
	s.queries = append(s.queries, q)
	s.mu.Unlock()
	return s.Store.Aggregate(ctx, q, aggs)
}

// TestReportNeverWalksTheStore: every event query a system report makes
// is bounded to the period and narrowed to the system's agents by the
// agent.id index, or asks for one record; none reads the store's events
// wholesale (BenchmarkReportMonth measures the time).
func TestReportNeverWalksTheStore(t *testing.T) {
	fx := newFixture(t)
	spy := &spyStore{Store: fx.st}
	b := *fx.builder
	b.d.Store = spy
	if _, err := b.Build(context.Background(), fxRequest(KindSystem, fxSystem, LangVI, FormatPDF)); err != nil {
		t.Fatal(err)
	}
	if len(spy.queries) == 0 {
		t.Fatal("the report made no event query")
	}
	for i, q := range spy.queries {
		if q.From.Before(periodFrom) || q.To.After(periodTo) || q.From.IsZero() || q.To.IsZero() {
			t.Errorf("query %d reads outside the period: %s..%s", i, q.From, q.To)
		}
		if len(q.Terms["agent.id"]) == 0 && q.Limit != 1 {
			t.Errorf("query %d is neither narrowed to the system's agents nor a single record: %+v", i, q)
		}
	}
}
