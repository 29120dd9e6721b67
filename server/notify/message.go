package notify

import (
	"bytes"
	"fmt"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"time"
)

// Message is one notification: a subject and a text for people
// (Vietnamese first, English second) and Data for machines.
type Message struct {
	// ID makes the message one: enqueuing it again changes nothing, and
	// receivers see it as Message-ID or X-Lachan-Delivery.
	ID      string `json:"id"`
	Channel string `json:"channel"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	// Data is what a webhook receiver reads: the incident's ID, severity,
	// the playbook and step that sent it.
	Data    map[string]any `json:"data,omitempty"`
	Created time.Time      `json:"created"`
}

var htmlBody = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{{ .Subject }}</title></head>
<body style="font-family: sans-serif">
<h3>{{ .Subject }}</h3>
{{ range .Paragraphs }}<p>{{ range $i, $l := . }}{{ if $i }}<br>
{{ end }}{{ $l }}{{ end }}</p>
{{ end }}</body></html>
`))

// paragraphs splits text at blank lines, each paragraph into its lines.
func paragraphs(text string) [][]string {
	var out [][]string
	for _, p := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.Split(p, "\n"))
		}
	}
	return out
}

// buildMail writes the message as a MIME mail: plain text and HTML (the
// text escaped) alternatives, UTF-8, quoted-printable.
func buildMail(m Message, from string, to []string, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	hdr := []string{
		"From: " + from,
		"To: " + strings.Join(to, ", "),
		"Subject: " + mime.QEncoding.Encode("utf-8", m.Subject),
		"Date: " + now.Format(time.RFC1123Z),
		"Message-ID: <" + m.ID + "@lachan>",
		"X-Lachan-Delivery: " + m.ID,
		"MIME-Version: 1.0",
		`Content-Type: multipart/alternative; boundary="` + mw.Boundary() + `"`,
	}
	for i, h := range hdr {
		if strings.ContainsAny(h, "\r\n") {
			return nil, fmt.Errorf("mail header %q holds a line break", h)
		}
		if strings.HasPrefix(h, "Subject: ") {
			// One encoded word per line keeps a long subject within the
			// line length mail allows.
			hdr[i] = strings.ReplaceAll(h, "?= =?", "?=\r\n =?")
		}
	}
	var out bytes.Buffer
	out.WriteString(strings.Join(hdr, "\r\n") + "\r\n\r\n")
	var html bytes.Buffer
	if err := htmlBody.Execute(&html, struct {
		Subject    string
		Paragraphs [][]string
	}{m.Subject, paragraphs(m.Text)}); err != nil {
		return nil, err
	}
	for _, part := range []struct{ ctype, body string }{{"text/plain; charset=utf-8", m.Text}, {"text/html; charset=utf-8", html.String()}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(strings.ReplaceAll(part.body, "\n", "\r\n"))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	out.Write(b.Bytes())
	return out.Bytes(), nil
}
