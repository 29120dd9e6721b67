package report

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"strings"
)

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"svg":   svgChart,
	"lines": func(s string) []string { return strings.Split(s, "\n") },
}).Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<title>{{.Title}} — {{.Unit}}</title>
<style>
body{font-family:"DejaVu Sans",sans-serif;font-size:10pt;max-width:190mm;margin:10mm auto;color:#111}
header{border-bottom:1px solid #444;font-size:8pt;color:#444;padding-bottom:2mm;margin-bottom:4mm}
h1{font-size:15pt}h2{font-size:12pt;margin-top:6mm}
table{border-collapse:collapse;width:100%;margin:2mm 0}th,td{border:1px solid #999;padding:1mm 2mm;text-align:left;vertical-align:top}
th{background:#e8e8e8}table.kv th{width:35%}p.note{font-style:italic;color:#444}
.pagebreak{break-after:page}svg{display:block;margin:2mm 0}
</style>
</head>
<body>
<header>{{.Unit}} · {{.Title}}</header>
{{range .Blocks}}{{if eq .Kind "h1"}}<h1>{{.Text}}</h1>
{{else if eq .Kind "h2"}}<h2>{{.Text}}</h2>
{{else if eq .Kind "p"}}<p>{{.Text}}</p>
{{else if eq .Kind "note"}}<p class="note">{{.Text}}</p>
{{else if eq .Kind "pagebreak"}}<div class="pagebreak"></div>
{{else if eq .Kind "kv"}}<table class="kv">{{range .Rows}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{else if eq .Kind "table"}}<table><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>{{range .Rows}}<tr>{{range .}}<td>{{range $i, $l := lines .}}{{if $i}}<br>{{end}}{{$l}}{{end}}</td>{{end}}</tr>{{end}}</table>
{{else}}{{svg .}}
{{end}}{{end}}</body>
</html>
`))

// HTML renders a report as one HTML page.
func HTML(rep Report) ([]byte, error) {
	out, _, err := renderHTML(rep)
	return out, err
}

func renderHTML(rep Report) ([]byte, *tr, error) {
	t := newTr(rep.Lang)
	data := struct {
		Lang, Title, Unit string
		Blocks            []block
	}{rep.Lang, title(rep, t), rep.Unit.Name, compose(rep, t)}
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, data); err != nil {
		return nil, t, fmt.Errorf("render html: %w", err)
	}
	return b.Bytes(), t, nil
}

// svgChart draws a chart block as inline SVG (vectors, as in the PDF).
func svgChart(b block) template.HTML {
	c := b.Chart
	if c == nil {
		return ""
	}
	const w, h, left, bottom, top = 640.0, 200.0, 40.0, 30.0, 20.0
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img"><title>%s</title>`, w, h, w, h, html.EscapeString(c.Title))
	fmt.Fprintf(&s, `<text x="%.0f" y="14" font-size="11">%s</text>`, left, html.EscapeString(c.Title))
	plotH, plotW := h-bottom-top, w-left-10
	fmt.Fprintf(&s, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333"/>`, left, h-bottom, w-10, h-bottom)
	fmt.Fprintf(&s, `<text x="2" y="%.0f" font-size="9">%s</text><text x="2" y="%.0f" font-size="9">0</text>`, top+8, axisTop(c), h-bottom)
	n := len(c.Values)
	step := plotW / float64(max(n, 1))
	every := max(1, n/12)
	pts := make([]string, 0, n)
	for i, v := range c.Values {
		y := plotH * frac(v, c.Max)
		x := left + float64(i)*step
		if b.Kind == "bars" {
			fmt.Fprintf(&s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#4a6fa5"/>`, x+step*0.15, h-bottom-y, step*0.7, y)
		} else {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x+step/2, h-bottom-y))
		}
		if i%every == 0 {
			fmt.Fprintf(&s, `<text x="%.1f" y="%.0f" font-size="8">%s</text>`, x, h-bottom+12, html.EscapeString(c.Labels[i]))
		}
	}
	if len(pts) > 0 {
		fmt.Fprintf(&s, `<polyline fill="none" stroke="#2a7a3a" stroke-width="2" points="%s"/>`, strings.Join(pts, " "))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String()) //nolint:gosec // built from escaped text and numbers only
}

func frac(v, top float64) float64 {
	if top <= 0 {
		return 0
	}
	return min(max(v/top, 0), 1)
}

func axisTop(c *chart) string {
	if c.Percent {
		return "100%"
	}
	return fmt.Sprintf("%.0f", c.Max)
}
