package report

import (
	"bytes"
	"fmt"
	"strings"

	"codeberg.org/go-pdf/fpdf"
	"github.com/go-fonts/dejavu/dejavusans"
	"github.com/go-fonts/dejavu/dejavusansbold"
)

// Page geometry, millimetres on A4.
const (
	pageMargin = 15.0
	lineH      = 4.6
	fontSize   = 9.0
)

// PDF renders a report as an A4 PDF: DejaVu Sans embedded (it covers
// Vietnamese, and its licence allows shipping it), the unit in the header,
// page numbers in the footer, charts drawn as vectors. The creation date
// is rep.Made, so that the same report gives the same bytes.
func PDF(rep Report) ([]byte, error) {
	out, _, err := renderPDF(rep)
	return out, err
}

func renderPDF(rep Report) ([]byte, *tr, error) {
	t := newTr(rep.Lang)
	head := title(rep, t)
	blocks := compose(rep, t)
	p := fpdf.New("P", "mm", "A4", "")
	p.SetCompression(true)
	p.SetCatalogSort(true)
	p.SetCreationDate(rep.Made)
	p.SetModificationDate(rep.Made)
	p.SetProducer("Lá Chắn", true)
	p.SetCreator("Lá Chắn", true)
	p.SetTitle(head, true)
	p.SetAuthor(rep.Unit.Name, true)
	p.AddUTF8FontFromBytes("dejavu", "", dejavusans.TTF)
	p.AddUTF8FontFromBytes("dejavu", "B", dejavusansbold.TTF)
	p.SetMargins(pageMargin, pageMargin+6, pageMargin)
	p.SetAutoPageBreak(true, pageMargin+5)
	p.AliasNbPages("{nb}")
	p.SetHeaderFunc(func() {
		p.SetFont("dejavu", "", 7.5)
		p.SetTextColor(80, 80, 80)
		p.SetXY(pageMargin, 8)
		w, _ := p.GetPageSize()
		p.CellFormat(w-2*pageMargin, 5, rep.Unit.Name+" · "+head, "B", 0, "L", false, 0, "")
		p.SetTextColor(0, 0, 0)
		p.SetY(pageMargin + 6)
	})
	p.SetFooterFunc(func() {
		p.SetY(-12)
		p.SetFont("dejavu", "", 7.5)
		p.CellFormat(0, 5, t.T("page", p.PageNo(), "{nb}"), "", 0, "C", false, 0, "")
	})
	p.AddPage()
	for _, b := range blocks {
		drawBlock(p, b)
	}
	if err := p.Error(); err != nil {
		return nil, t, fmt.Errorf("render pdf: %w", err)
	}
	var out bytes.Buffer
	if err := p.Output(&out); err != nil {
		return nil, t, fmt.Errorf("render pdf: %w", err)
	}
	return out.Bytes(), t, nil
}

func contentWidth(p *fpdf.Fpdf) float64 {
	w, _ := p.GetPageSize()
	return w - 2*pageMargin
}

func drawBlock(p *fpdf.Fpdf, b block) {
	switch b.Kind {
	case "h1":
		p.SetFont("dejavu", "B", 14)
		p.MultiCell(0, 7, b.Text, "", "L", false)
		p.Ln(2)
	case "h2":
		ensure(p, 20)
		p.Ln(2)
		p.SetFont("dejavu", "B", 11)
		p.MultiCell(0, 6, b.Text, "", "L", false)
		p.Ln(1)
	case "p", "note":
		p.SetFont("dejavu", "", fontSize)
		p.MultiCell(0, lineH, b.Text, "", "L", false)
	case "pagebreak":
		p.AddPage()
	case "kv":
		table(p, nil, b.Rows, []float64{.35, .65}, true)
	case "table":
		table(p, b.Head, b.Rows, b.Width, false)
	case "bars", "line":
		drawChart(p, b)
	}
}

// ensure starts a new page when less than h millimetres are left.
func ensure(p *fpdf.Fpdf, h float64) {
	_, ph := p.GetPageSize()
	if p.GetY()+h > ph-pageMargin-5 {
		p.AddPage()
	}
}

// table draws rows with wrapped cells, repeating the head on a new page.
func table(p *fpdf.Fpdf, head []string, rows [][]string, shares []float64, keyCol bool) {
	cw := contentWidth(p)
	widths := make([]float64, len(shares))
	for i, s := range shares {
		widths[i] = s * cw
	}
	drawRow := func(cells []string, bold, fill bool) {
		p.SetFont("dejavu", "", fontSize-0.5)
		lines := make([][]string, len(cells))
		n := 1
		for i, c := range cells {
			if i >= len(widths) {
				break
			}
			if bold || (keyCol && i == 0) {
				p.SetFont("dejavu", "B", fontSize-0.5)
			}
			for _, part := range strings.Split(c, "\n") {
				lines[i] = append(lines[i], p.SplitText(part, widths[i]-2)...)
			}
			p.SetFont("dejavu", "", fontSize-0.5)
			n = max(n, len(lines[i]))
		}
		h := float64(n)*lineH + 1
		ensure(p, h)
		x, y := pageMargin, p.GetY()
		for i := range widths {
			if fill {
				p.SetFillColor(232, 232, 232)
				p.Rect(x, y, widths[i], h, "FD")
			} else {
				p.Rect(x, y, widths[i], h, "D")
			}
			style := ""
			if bold || (keyCol && i == 0) {
				style = "B"
			}
			p.SetFont("dejavu", style, fontSize-0.5)
			for j, l := range lines[i] {
				p.SetXY(x+1, y+0.5+float64(j)*lineH)
				p.CellFormat(widths[i]-2, lineH, l, "", 0, "L", false, 0, "")
			}
			x += widths[i]
		}
		p.SetXY(pageMargin, y+h)
	}
	p.SetDrawColor(150, 150, 150)
	if head != nil {
		ensure(p, 3*lineH)
		drawRow(head, true, true)
	}
	for _, r := range rows {
		_, ph := p.GetPageSize()
		if head != nil && p.GetY()+lineH+1 > ph-pageMargin-5 {
			p.AddPage()
			drawRow(head, true, true)
		}
		drawRow(r, false, false)
	}
	p.Ln(2)
}

// drawChart draws bars or a line with its axis, as vector paths.
func drawChart(p *fpdf.Fpdf, b block) {
	c := b.Chart
	const h = 45.0
	ensure(p, h+12)
	p.SetFont("dejavu", "B", fontSize)
	p.CellFormat(0, 5, c.Title, "", 1, "L", false, 0, "")
	x0, y0 := pageMargin+10, p.GetY()+2
	w := contentWidth(p) - 12
	base := y0 + h
	p.SetDrawColor(60, 60, 60)
	p.SetLineWidth(0.2)
	p.Line(x0, base, x0+w, base)
	p.Line(x0, y0, x0, base)
	p.SetFont("dejavu", "", 6.5)
	p.SetXY(pageMargin, y0-2)
	p.CellFormat(9, 4, axisTop(c), "", 0, "R", false, 0, "")
	p.SetXY(pageMargin, base-2)
	p.CellFormat(9, 4, "0", "", 0, "R", false, 0, "")
	n := len(c.Values)
	step := w / float64(max(n, 1))
	every := max(1, n/12)
	var pts []fpdf.PointType
	for i, v := range c.Values {
		y := h * frac(v, c.Max)
		x := x0 + float64(i)*step
		if b.Kind == "bars" {
			p.SetFillColor(74, 111, 165)
			p.Rect(x+step*0.15, base-y, step*0.7, y, "F")
		} else {
			pts = append(pts, fpdf.PointType{X: x + step/2, Y: base - y})
		}
		if i%every == 0 {
			p.SetXY(x, base+0.5)
			p.CellFormat(step*float64(every), 4, c.Labels[i], "", 0, "L", false, 0, "")
		}
	}
	if len(pts) > 1 {
		p.SetDrawColor(42, 122, 58)
		p.SetLineWidth(0.6)
		for i := 1; i < len(pts); i++ {
			p.Line(pts[i-1].X, pts[i-1].Y, pts[i].X, pts[i].Y)
		}
		p.SetLineWidth(0.2)
	}
	p.SetDrawColor(150, 150, 150)
	p.SetXY(pageMargin, base+6)
}

// Render renders a report in a format (pdf or html).
func Render(rep Report, format string) ([]byte, error) {
	switch format {
	case FormatPDF:
		return PDF(rep)
	case FormatHTML:
		return HTML(rep)
	}
	return nil, checkFormat(format)
}
