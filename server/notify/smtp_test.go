package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailbox is an SMTP server's backend that keeps what it is sent.
type mailbox struct {
	mu    sync.Mutex
	msgs  []received
	user  string
	pass  string
	authd []string
}

type received struct {
	from string
	to   []string
	data []byte
	tls  bool
}

type session struct {
	mb   *mailbox
	conn *smtp.Conn
	cur  received
}

func (mb *mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{mb: mb, conn: c}, nil
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.mb.user || pass != s.mb.pass {
			return errors.New("bad credentials")
		}
		s.mb.mu.Lock()
		s.mb.authd = append(s.mb.authd, user)
		s.mb.mu.Unlock()
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, s.cur)
	s.mb.mu.Unlock()
	return nil
}
func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

func (mb *mailbox) got() []received {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]received(nil), mb.msgs...)
}

// startSMTP serves mb on a loopback port, with STARTTLS when tc is set.
func startSMTP(t *testing.T, mb *mailbox, tc *tls.Config) string {
	t.Helper()
	srv := smtp.NewServer(mb)
	srv.Domain = "127.0.0.1"
	srv.AllowInsecureAuth = tc == nil
	if tc != nil {
		srv.TLSConfig = tc
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestEmailOverSTARTTLS(t *testing.T) {
	serverTLS, caFile := testPKI(t)
	mb := &mailbox{user: "lachan", pass: "mật-khẩu-thử-0123456789"}
	addr := startSMTP(t, mb, serverTLS)
	cfg := DefaultConfig()
	cfg.Channels = append(cfg.Channels, Channel{Name: "soc", Type: TypeEmail, SMTP: addr, From: "lachan@soc.example", To: []string{"truc-ban@soc.example", "an@soc.example"},
		Username: "lachan", PasswordFile: writeFile(t, "pw", mb.pass+"\n"), CAFile: caFile})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	q := NewQueue(openStore(t, t.TempDir()), cfg, testLogger(&logs), nil)
	ctx := context.Background()
	m := Message{ID: "msg-1", Channel: "soc", Subject: "[Lá Chắn] Đã cô lập máy pc-ward-01: dấu hiệu mã độc tống tiền (Win_Ransom_LockBit3, C:\\Users\\an\\Downloads\\hoadon-thang-12.exe) / pc-ward-01 isolated: ransomware-like finding",
		Text: "Máy pc-01 đã bị cô lập.\nTệp: <script>alert(1)</script>\n\n---\n\npc-01 was isolated."}
	if err := q.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	if n, err := q.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("sent %d, %v; queue: %+v", n, err, entry(t, q, "msg-1"))
	}
	got := mb.got()
	if len(got) != 1 {
		t.Fatalf("%d messages delivered", len(got))
	}
	r := got[0]
	if !r.tls || r.from != "lachan@soc.example" || strings.Join(r.to, ",") != "truc-ban@soc.example,an@soc.example" || len(mb.authd) != 1 {
		t.Errorf("delivery: tls=%v from=%s to=%v logins=%v", r.tls, r.from, r.to, mb.authd)
	}
	parsed, err := mail.ReadMessage(strings.NewReader(string(r.data)))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	if subj != m.Subject || parsed.Header.Get("Message-Id") != "<msg-1@lachan>" {
		t.Errorf("subject %q, message-id %q", subj, parsed.Header.Get("Message-Id"))
	}
	_, params, _ := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
	mr := multipart.NewReader(parsed.Body, params["boundary"])
	parts := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p) // quoted-printable is decoded by NextPart
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = string(b)
	}
	if !strings.Contains(parts["text/plain"], "Máy pc-01 đã bị cô lập.") || !strings.Contains(parts["text/plain"], "<script>") {
		t.Errorf("text part:\n%s", parts["text/plain"])
	}
	if h := parts["text/html"]; !strings.Contains(h, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(h, "<script>") {
		t.Errorf("html part not escaped:\n%s", h)
	}
	if e := entry(t, q, "msg-1"); e.State != StateSent || e.Attempts != 1 {
		t.Errorf("entry %+v", e)
	}
	if strings.Contains(logs.String(), mb.pass) {
		t.Errorf("the SMTP password is in the log:\n%s", logs.String())
	}
}

// TestEmailRefusedWithoutTLS: a server without STARTTLS gets nothing,
// unless the channel allows a loopback server in clear text.
func TestEmailRefusedWithoutTLS(t *testing.T) {
	mb := &mailbox{}
	addr := startSMTP(t, mb, nil)
	cfg := DefaultConfig()
	cfg.Channels = append(cfg.Channels, Channel{Name: "plain", Type: TypeEmail, SMTP: addr, From: "lachan@soc.example", To: []string{"a@soc.example"}})
	cfg.Channels = append(cfg.Channels, Channel{Name: "loopback", Type: TypeEmail, SMTP: addr, From: "lachan@soc.example", To: []string{"a@soc.example"}, InsecureLoopback: true})
	var logs syncBuffer
	q := NewQueue(openStore(t, t.TempDir()), cfg, testLogger(&logs), nil)
	ctx := context.Background()
	for _, ch := range []string{"plain", "loopback"} {
		if err := q.Enqueue(ctx, Message{ID: ch, Channel: ch, Subject: "s", Text: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if e := entry(t, q, "plain"); e.State != StateDead || !strings.Contains(e.LastError, "refusing to send in clear text") {
		t.Errorf("plain: %+v", e)
	}
	if e := entry(t, q, "loopback"); e.State != StateSent {
		t.Errorf("loopback: %+v", e)
	}
	if got := mb.got(); len(got) != 1 || got[0].tls {
		t.Errorf("delivered %+v", got)
	}
	bad := cfg
	bad.Channels = []Channel{{Name: "x", Type: TypeEmail, SMTP: "mail.example:25", From: "a@b.example", To: []string{"c@d.example"}, InsecureLoopback: true}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "insecure_loopback is for a mail server on a loopback address") {
		t.Errorf("validate: %v", err)
	}
}

// TestCertificatesChecked: a mail server or webhook whose certificate is
// not signed by the trusted CA gets nothing; the message waits for a
// retry with the reason.
func TestCertificatesChecked(t *testing.T) {
	serverTLS, _ := testPKI(t)
	_, otherCA := testPKI(t)
	mb := &mailbox{}
	addr := startSMTP(t, mb, serverTLS)
	rc := &receiver{now: time.Now}
	url, _ := startWebhook(t, rc)
	cfg := DefaultConfig()
	cfg.Channels = []Channel{
		{Name: "mail", Type: TypeEmail, SMTP: addr, From: "lachan@soc.example", To: []string{"a@soc.example"}, CAFile: otherCA},
		{Name: "hook", Type: TypeWebhook, URL: url, SecretFile: writeFile(t, "key", testSecret), CAFile: otherCA},
	}
	var logs syncBuffer
	q := NewQueue(openStore(t, t.TempDir()), cfg, testLogger(&logs), nil)
	ctx := context.Background()
	for _, ch := range []string{"mail", "hook"} {
		if err := q.Enqueue(ctx, Message{ID: ch, Channel: ch, Subject: "s", Text: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.DeliverDue(ctx); err != nil || n != 0 {
		t.Fatalf("sent %d, %v", n, err)
	}
	for _, id := range []string{"mail", "hook"} {
		if e := entry(t, q, id); e.State != StatePending || !strings.Contains(e.LastError, "certificate") {
			t.Errorf("%s: %+v", id, e)
		}
	}
	if len(mb.got()) != 0 || len(rc.accepted) != 0 {
		t.Error("delivered over a connection to an untrusted certificate")
	}
}
