package browser

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"lachan/agent/client"
	"lachan/internal/wire"
	"lachan/server/incident"
	"lachan/server/user"
	"lachan/test/harness"
)

const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// hostile is a host name an attacker on a PC could report: markup, a
// terminal colour escape and a right-to-left override.
const hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>\x1b[31mĐỎ\u202e"

// systemsYAML registers the ward's one-stop office, so that the systems
// page and the overview show a system's four layers.
const systemsYAML = `systems:
  - id: mot-cua-ben-thanh
    name: {vi: "Hệ thống một cửa phường Bến Thành", en: "Ben Thanh ward one-stop office"}
    owner: ` + harness.Unit + `
    level: 2
    assets:
      agents:
        units: [` + harness.Unit + `]
    layers:
      on_site: {unit: ` + harness.Unit + `, contact: "Cán bộ CNTT phường"}
      monitoring: {soc: "Trung tâm Giám sát an toàn thông tin"}
`

// demo is a server with the demo's incident (an agent finding the EICAR
// file), a PC enrolled under a hostile host name, an analyst and an
// auditor, each with a one-time password.
type demo struct {
	srv              *harness.Server
	inc              incident.Incident
	analyst, auditor user.Added
	base             string
}

func startDemo(t *testing.T, ctx context.Context) demo {
	t.Helper()
	dir := t.TempDir()
	scan := filepath.Join(dir, "scan")
	if err := os.MkdirAll(scan, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scan, "eicar.com.txt"), []byte(eicar), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := harness.StartServer(ctx, bins.server, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	ag, err := harness.StartAgent(bins.agent, filepath.Join(dir, "agent"), srv, harness.AgentOptions{ScanPaths: []string{scan}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Stop() })
	if _, err := client.Enroll(ctx, filepath.Join(dir, "hostile"), "https://"+srv.Addr, srv.CAFile(), harness.EnrollSecret,
		wire.Host{Name: hostile, OS: "linux", Arch: "amd64", IPs: []string{"127.0.0.2"}, Agent: "0.0.0-test"}); err != nil {
		t.Fatalf("enroll the hostile PC: %v", err)
	}
	systems := filepath.Join(dir, "systems.yml")
	if err := os.WriteFile(systems, []byte(systemsYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := srv.CLI(ctx, "systems", "apply", systems); err != nil {
		t.Fatalf("systems apply: %v\n%s", err, out)
	}
	d := demo{srv: srv, base: "https://" + srv.Addr}
	d.inc, err = harness.WaitIncident(ctx, srv, 2*time.Minute, func(inc incident.Incident) bool {
		return strings.Contains(strings.ToLower(inc.Title), "eicar")
	})
	if err != nil {
		t.Fatalf("no EICAR incident: %v\nagent log:\n%s", err, ag.Tail())
	}
	for _, u := range []struct {
		name, role string
		out        *user.Added
	}{{"lan", "analyst", &d.analyst}, {"kiemtoan", "auditor", &d.auditor}} {
		if err := srv.CLIJSON(ctx, u.out, "users", "add", u.name, "--role", u.role); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// css selects the first element a CSS selector matches.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// waitText waits until the element's text holds want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`(() => { const e = document.querySelector(`+jsString(sel)+`); return !!e && e.innerText.includes(`+jsString(want)+`); })()`,
		chromedp.WithPollingTimeout(20*time.Second))
}

// load runs trigger (a click, a key) and waits for the page it loads.
func load[T any](trigger chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	w := chromedp.WaitEvent(page.LoadEventFired, nil, trigger)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := w(ctx, t)
		return chromedp.Void{}, err
	}
}

// do runs steps with a bound of 30 s; on failure it names what the
// browser was showing, so that a failure says where it stopped.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		state, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 3000)`))
		t.Fatalf("%s: %v\nthe browser shows %s", what, err, state)
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`", "$", `\$`)
	return "`" + r.Replace(s) + "`"
}

// loginAs logs in through the form, changes the one-time password and
// lands on the overview.
func loginAs(t *testing.T, ctx context.Context, base, name, onetime string, shot bool) {
	t.Helper()
	do(t, ctx, "open the login page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css("#login-form")))
	lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil || lang != "vi" {
		t.Errorf("login page lang %q (%v), want vi", lang, err)
	}
	if shot {
		screenshot(t, ctx, "login")
	}
	newPW := "Khoá-mới-rất-dài-2026-" + strings.ToUpper(name[:1])
	do(t, ctx, "log in as "+name,
		chromedp.SendKeys(css("#name"), name),
		chromedp.SendKeys(css("#password"), onetime),
		load(chromedp.Click(css("#login-submit"))),
		chromedp.WaitVisible(css("#password-form")),
	)
	do(t, ctx, "change the one-time password of "+name,
		chromedp.SendKeys(css("#old"), onetime),
		chromedp.SendKeys(css("#new"), newPW),
		chromedp.SendKeys(css("#again"), newPW),
		load(chromedp.Click(css("#password-submit"))),
		chromedp.WaitVisible(css("#open-count")),
		waitText("#me-name", name),
	)
}

// curlRoot is `curl -k https://ADDR/`: the login page, in Vietnamese.
func curlRoot(t *testing.T, base string) {
	t.Helper()
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := cl.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<html lang="vi">`) || !strings.Contains(string(body), `id="login-form"`) {
		t.Errorf("GET %s/: %d, want the login page with <html lang=\"vi\">\n%.400s", base, resp.StatusCode, body)
	}
}

// TestBrowserIncidentWorkflow is an analyst's day with the demo's
// incident: log in, open it from the queue with the keyboard, add a
// note, assign it, resolve it as a false positive; then an auditor finds
// that action in the audit trail, whose page shows the chain verified.
// On the way, the hosts page shows the hostile host name as text and no
// script of it runs, and a Sigma rule is switched off and on.
func TestBrowserIncidentWorkflow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	setup, stop := context.WithTimeout(ctx, 3*time.Minute)
	defer stop()
	d := startDemo(t, setup)
	curlRoot(t, d.base)
	b := newBrowser(t, ctx)
	var dialogs atomic.Int32
	// The watcher keeps the tab's context: b is bounded by a timeout below.
	go func(tab context.Context) {
		for _, err := range chromedp.Events(tab, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			dialogs.Add(1)
			_, _ = chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}(b)
	b, stopB := context.WithTimeout(b, 3*time.Minute)
	defer stopB()

	loginAs(t, b, d.base, "lan", d.analyst.Password, true)
	screenshot(t, b, "overview")

	// The queue, then j and Enter open the first row: the one incident.
	do(t, b, "queue", chromedp.Navigate(d.base+"/incidents"), chromedp.WaitVisible(css("#queue")),
		waitText("#queue", d.inc.ID[:12]))
	screenshot(t, b, "queue")
	do(t, b, "open the incident from the queue with j, Enter", chromedp.KeyEvent("j"), load(chromedp.KeyEvent("\r")), chromedp.WaitVisible(css("#incident-head")),
		waitText("#incident-head", d.inc.ID))

	// A response action on the incident's PC: its requester's approval is
	// refused by the API, whose reason the page shows.
	do(t, b, "request an action, approve it as its requester",
		chromedp.SetValue(css("#action-kind"), "collect-file"),
		chromedp.SendKeys(css("#action-args"), "/etc/hostname"),
		load(chromedp.Click(css("#action-request"))),
		waitText("#action-list", "collect-file"),
		waitText("#action-list", "chờ duyệt"),
		load(chromedp.Click(css("#action-list button.approve"))),
		waitText("#error", "may not approve"),
	)

	const note = "Đã kiểm tra: tệp thử EICAR do bộ phận CNTT đặt <b>để thử</b>"
	do(t, b, "note, assign, resolve",
		chromedp.SendKeys(css("#note-text"), note),
		load(chromedp.Click(css("#note"))),
		waitText("#notes", note),
		chromedp.SendKeys(css("#assign-to"), "lan"),
		load(chromedp.Click(css("#assign"))),
		waitText("#assignee", "lan"),
		chromedp.SetValue(css("#resolution-select"), "false_positive"),
		chromedp.SendKeys(css("#resolve-note"), "Cảnh báo nhầm: tệp thử"),
		load(chromedp.Click(css("#resolve"))),
		waitText("#status", "đã đóng"),
		waitText("#resolution", "cảnh báo nhầm"),
	)
	screenshot(t, b, "incident")

	// The hostile PC on the hosts page: its name is text, nothing of it
	// runs (one script element, the console's; no image; no dialog).
	do(t, b, "hosts", chromedp.Navigate(d.base+"/hosts"), chromedp.WaitVisible(css("#hosts")))
	hostsText, err := chromedp.Run(b, chromedp.Text(css("#hosts")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hostsText, "<script>alert(1)</script><img src=x onerror=alert(2)>") || !strings.Contains(hostsText, `\u001b[31mĐỎ\u202e`) {
		t.Errorf("the hostile host name does not show as text:\n%s", hostsText)
	}
	counts, err := chromedp.Run(b, chromedp.Evaluate[[]int](`[document.scripts.length, document.images.length]`))
	if err != nil || len(counts) != 2 || counts[0] != 1 || counts[1] != 0 {
		t.Errorf("hosts page has [scripts images] %v (%v), want the console's one script and no image", counts, err)
	}
	screenshot(t, b, "hosts")

	// Hunting: the EICAR finding by its rule, then a click on a top value
	// narrows the query to it.
	do(t, b, "hunt", chromedp.Navigate(d.base+"/hunt?from=1h&q=yara.rule:EICAR*"), chromedp.WaitVisible(css("#results")),
		waitText("#results", "yara.finding"))
	screenshot(t, b, "hunt")
	do(t, b, "pivot", load(chromedp.Click(css("#fields a.pivot"))), chromedp.WaitVisible(css("#results")))
	q, err := chromedp.Run(b, chromedp.Value(css("#hunt-q")))
	if err != nil || !strings.HasPrefix(q, "(yara.rule:EICAR*) and ") {
		t.Errorf("query after the pivot %q (%v), want the first narrowed", q, err)
	}
	do(t, b, "systems", chromedp.Navigate(d.base+"/systems"), chromedp.WaitVisible(css("h1")))
	screenshot(t, b, "systems")
	// A Sigma rule switched off from the rules page, then on again.
	const yaraRule = "8a919511-8b0f-4715-ac9b-c2941a6c4b72" // detections/endpoint/yara_finding.yml
	switchRow := "#rule-" + yaraRule
	do(t, b, "rules: switch a rule off", chromedp.Navigate(d.base+"/rules"), chromedp.WaitVisible(css("#set-sigma")),
		chromedp.Click(css("#set-sigma summary")), chromedp.WaitVisible(css(switchRow+" button.switch")),
		load(chromedp.Click(css(switchRow+" button.switch"))), waitText(switchRow, "đã tắt"), waitText("#set-sigma h2", "1 luật đã tắt"))
	screenshot(t, b, "rules")
	do(t, b, "rules: switch it on again", load(chromedp.Click(css(switchRow+" button.switch"))), waitText(switchRow, "đang bật"))
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d script dialogs opened: hostile text ran", n)
	}

	// The analyst may not read the audit trail; the auditor may.
	do(t, b, "analyst on the audit page, then logout", chromedp.Navigate(d.base+"/audit"), chromedp.WaitVisible(css("#error")),
		load(chromedp.Click(css("#logout"))), chromedp.WaitVisible(css("#login-form")))
	loginAs(t, b, d.base, "kiemtoan", d.auditor.Password, false)
	do(t, b, "auditor finds the resolution", chromedp.Navigate(d.base+"/audit?action=incident.resolve"), chromedp.WaitVisible(css("#audit")),
		waitText("#audit", d.inc.ID))
	row, err := chromedp.Run(b, chromedp.Text(css("#audit")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(row, "lan") || !strings.Contains(row, "false_positive") {
		t.Errorf("audit row of the resolution lacks the analyst or the resolution:\n%s", row)
	}
	verify, err := chromedp.Run(b, chromedp.AttributeValue(css("#verify"), "class"))
	if err != nil || !strings.Contains(verify.Value, "ok") {
		t.Errorf("audit page verification state %q (%v), want ok", verify.Value, err)
	}
	if err := chromedp.Do(b, chromedp.Navigate(d.base+"/audit"), chromedp.WaitVisible(css("#audit"))); err != nil {
		t.Fatal(err)
	}
	screenshot(t, b, "audit")
}
