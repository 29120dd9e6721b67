package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// needTool finds a program the test drives; without it the test skips,
// and fails under CI=true, so that CI never passes without it.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (poppler-utils): CI must run this test", name)
		}
		t.Skipf("%s is missing (install poppler-utils)", name)
	}
	return p
}

// goldenCase is one report of the fixed data set.
type goldenCase struct {
	name string
	req  Request
	// headings must come back from the PDF's text layer exactly.
	headings []string
}

func goldenCases() []goldenCase {
	sysVI := fxRequest(KindSystem, fxSystem, LangVI, FormatPDF)
	sysEN := fxRequest(KindSystem, fxSystem, LangEN, FormatPDF)
	unitVI := fxRequest(KindUnit, fxUnit, LangVI, FormatPDF)
	empty := fxRequest(KindUnit, fxEmpty, LangVI, FormatPDF)
	initial := fxRequest(KindIncident, "inc-20261120", LangVI, FormatPDF)
	initial.Form = FormInitial
	final := fxRequest(KindIncident, "inc-20261103-eicar0001", LangVI, FormatPDF)
	return []goldenCase{
		{"system-vi", sysVI, []string{"Báo cáo an toàn thông tin hệ thống thông tin", "2. Mô hình bảo vệ 4 lớp", "8. Danh mục kiểm tra theo cấp độ 3", "9. Tồn tại và khuyến nghị khắc phục", "Phường Bến Thành"}},
		{"system-en", sysEN, []string{"Information system security report", "8. Control checklist for level 3"}},
		{"unit-vi", unitVI, []string{"Báo cáo an toàn thông tin của đơn vị", "Các hệ thống thông tin của đơn vị"}},
		{"unit-empty-vi", empty, []string{"Báo cáo an toàn thông tin của đơn vị", "Chưa đăng ký hệ thống thông tin nào."}},
		{"incident-initial-vi", initial, []string{"Báo cáo ban đầu sự cố an toàn thông tin mạng", "Thời điểm phát hiện"}},
		{"incident-final-vi", final, []string{"Báo cáo kết thúc ứng cứu sự cố an toàn thông tin mạng", "Diễn biến xử lý", "Đã cách ly máy và xóa tệp thử nghiệm."}},
	}
}

func TestGoldenReports(t *testing.T) {
	pdftotext := needTool(t, "pdftotext")
	pdftoppm := needTool(t, "pdftoppm")
	fx := newFixture(t)
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			rep, err := fx.builder.Build(context.Background(), c.req)
			if err != nil {
				t.Fatal(err)
			}
			doc, tl, err := renderPDF(rep)
			if err != nil {
				t.Fatal(err)
			}
			page, _, err := renderHTML(rep)
			if err != nil {
				t.Fatal(err)
			}
			if len(tl.missing) > 0 {
				t.Errorf("catalog %s lacks %v", c.req.Lang, slices.Sorted(mapKeys(tl.missing)))
			}
			dir := t.TempDir()
			file := filepath.Join(dir, c.name+".pdf")
			if err := os.WriteFile(file, doc, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(pdftotext, "-enc", "UTF-8", file, "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			text := string(out)
			for _, h := range c.headings {
				if !strings.Contains(text, h) {
					t.Errorf("the text layer lacks %q", h)
				}
			}
			pages := renderPages(t, pdftoppm, file, dir)
			got := fmt.Sprintf("pages: %d\n%s", pages, text)
			golden(t, filepath.Join("testdata", c.name+".txt"), []byte(got))
			golden(t, filepath.Join("testdata", c.name+".html"), page)
			// The file's hash as a golden: the same data give the same bytes
			// in every process, not only twice in one.
			sum := sha256.Sum256(doc)
			golden(t, filepath.Join("testdata", c.name+".pdf.sha256"), []byte(hex.EncodeToString(sum[:])+"\n"))
		})
	}
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// renderPages draws every page at low resolution and checks that none is
// blank; it returns the page count.
func renderPages(t *testing.T, pdftoppm, file, dir string) int {
	t.Helper()
	prefix := filepath.Join(dir, "page")
	if out, err := exec.Command(pdftoppm, "-r", "30", "-png", file, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	files, _ := filepath.Glob(prefix + "-*.png")
	if len(files) == 0 {
		t.Fatal("pdftoppm drew no page")
	}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		dark := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if r, g, bl, _ := img.At(x, y).RGBA(); r+g+bl < 3*0xc000 {
					dark++
				}
			}
		}
		if dark < 50 {
			t.Errorf("%s is blank (%d dark pixels)", filepath.Base(f), dark)
		}
	}
	return len(files)
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %q\nwant: %q\n(run with -update after checking)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: %d lines, want %d", path, len(gl), len(wl))
	}
}
