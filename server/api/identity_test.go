package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/server/fleet"
	"lachan/server/store"
	"lachan/server/unit"
)

// pc is one enrolled agent of a test: its client and identity.
type pc struct {
	http *http.Client
	id   string
	key  *ecdsa.PrivateKey
}

// csr makes a key and its PEM certificate request.
func csr() (*ecdsa.PrivateKey, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func (e *env) clientFor(key *ecdsa.PrivateKey, certPEM string) *http.Client {
	kb, _ := x509.MarshalECPrivateKey(key)
	pair, err := tls.X509KeyPair([]byte(certPEM), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.client(&pair)
}

// tryEnroll sends an enrollment and returns the status, the error body and,
// on success, the enrolled PC.
func (e *env) tryEnroll(req wire.EnrollRequest) (int, wire.Error, *pc, http.Header) {
	e.t.Helper()
	key, c := csr()
	req.CSR = c
	hreq, _ := http.NewRequest(http.MethodPost, e.url+wire.PathEnroll, strings.NewReader(string(jsonBody(req))))
	resp, err := e.anon.Do(hreq)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var we wire.Error
		json.NewDecoder(resp.Body).Decode(&we)
		return resp.StatusCode, we, nil, resp.Header
	}
	var er wire.EnrollResponse
	if err := json.NewDecoder(resp.Body).Decode(&er); err != nil {
		e.t.Fatal(err)
	}
	return 200, wire.Error{}, &pc{http: e.clientFor(key, er.Cert), id: er.AgentID, key: key}, resp.Header
}

func (e *env) mustEnroll(req wire.EnrollRequest) *pc {
	e.t.Helper()
	code, we, p, _ := e.tryEnroll(req)
	if code != 200 {
		e.t.Fatalf("enroll %s: %d %+v", req.Host.Name, code, we)
	}
	return p
}

func (e *env) checkIn(p *pc, h wire.Host) int {
	e.t.Helper()
	return e.post(p.http, wire.PathCheckIn, jsonBody(wire.CheckInRequest{Host: h}), nil, nil)
}

// alerts returns the rule IDs of the stored alerts.
func (e *env) alertRules() []string {
	e.t.Helper()
	page, err := e.st.SearchEvents(context.Background(), store.Query{Datasets: []string{event.DatasetAlert}, Limit: store.MaxLimit})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, a := range page.Events {
		out = append(out, a.String("rule.id"))
	}
	return out
}

// sendFlow sends one flow from ip through a sensor token and returns the
// unit it was tied to.
func (e *env) sendFlow(ip string) string {
	e.t.Helper()
	sensor, _ := e.tokens.Issue(context.Background(), Token{Name: "sensor-" + event.NewID(), Role: RoleSensor})
	flow := event.New(event.DatasetFlow, time.Now())
	flow.Set("source.ip", ip)
	fb, _ := json.Marshal(flow)
	hdr := map[string]string{"Content-Encoding": "gzip", "Content-Type": wire.ContentTypeNDJSON, "Authorization": "Bearer " + sensor}
	if code := e.post(e.anon, wire.PathNetworkIngest, gz([][]byte{fb}), hdr, nil); code != 200 {
		e.t.Fatalf("network ingest: %d", code)
	}
	got, _ := e.st.GetEvents(context.Background(), []string{flow.ID})
	if len(got) != 1 {
		e.t.Fatal("flow not stored")
	}
	return got[0].String("lachan.unit")
}

// An agent cannot take another PC's addresses: a claim outside its unit's
// networks is not tied to it, a claim another unit's agent also makes
// ties to neither and raises an alert, and a rename is kept as history and
// raises one too.
func TestAgentCannotTakeAnotherPCsIdentity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.units.Put(ctx, unit.Spec{ID: "ward-2", Name: "Ward 2", Parent: "hcm", EnrollSecret: "ward-2-secret-0123456789", Networks: []string{"10.20.0.0/16"}}); err != nil {
		t.Fatal(err)
	}
	victim := e.mustEnroll(wire.EnrollRequest{Secret: secret, Host: wire.Host{Name: "ke-toan-01", IPs: []string{"10.9.8.7"}}})
	attacker := e.mustEnroll(wire.EnrollRequest{Secret: "ward-2-secret-0123456789", Host: wire.Host{Name: "pc-x", IPs: []string{"10.20.0.5"}}})
	if u := e.sendFlow("10.9.8.7"); u != "ward-1" {
		t.Fatalf("flow of the victim's address tied to %q", u)
	}
	// The attacker claims the victim's address: outside its unit's networks.
	if code := e.checkIn(attacker, wire.Host{Name: "pc-x", IPs: []string{"10.9.8.7"}}); code != 200 {
		t.Fatalf("check-in: %d", code)
	}
	if u := e.sendFlow("10.9.8.7"); u != "ward-1" {
		t.Fatalf("after another unit's agent claimed it, the address went to %q", u)
	}
	// With overlapping declared networks the claim is a conflict: tied to
	// neither unit, and an alert says so.
	if err := e.units.Put(ctx, unit.Spec{ID: "ward-2", Name: "Ward 2", Parent: "hcm", Networks: []string{"10.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	e.checkIn(attacker, wire.Host{Name: "pc-x", IPs: []string{"10.20.0.5"}})
	e.checkIn(attacker, wire.Host{Name: "pc-x", IPs: []string{"10.9.8.7"}})
	if u := e.sendFlow("10.9.8.7"); u != "" {
		t.Fatalf("a conflicted address was tied to %q", u)
	}
	// A rename is an alert and history; the victim's record is untouched.
	e.checkIn(attacker, wire.Host{Name: "ke-toan-01", IPs: []string{"10.9.8.7"}})
	rules := strings.Join(e.alertRules(), " ")
	for _, want := range []string{"lachan:address-conflict", "lachan:agent-renamed"} {
		if !strings.Contains(rules, want) {
			t.Errorf("no %s alert; alerts: %s", want, rules)
		}
	}
	v, _, err := e.fleet.Get(ctx, victim.id)
	if err != nil || v.Host.Name != "ke-toan-01" || v.Unit != "ward-1" {
		t.Fatalf("victim's record: %+v %v", v, err)
	}
	page, _ := e.st.SearchEvents(ctx, store.Query{Datasets: []string{fleet.DatasetAgent}, Terms: map[string][]string{"host.id": {attacker.id}}, Limit: 100})
	actions := map[string]bool{}
	for _, ev := range page.Events {
		actions[ev.String("event.action")] = true
	}
	for _, want := range []string{fleet.ChangeEnrolled, fleet.ChangeAddresses, fleet.ChangeConflict, fleet.ChangeRenamed} {
		if !actions[want] {
			t.Errorf("history of the attacker lacks %q: %v", want, actions)
		}
	}
}

// An address the server sees an agent's connections come from is tied to
// it; one that several agents connect from (a NAT) proves nothing.
func TestConnectionSourceTiesOnlyWhenUnshared(t *testing.T) {
	e := newEnv(t)
	e.mustEnroll(wire.EnrollRequest{Secret: secret, Host: wire.Host{Name: "pc-1", IPs: []string{"192.168.1.4"}}})
	if u := e.sendFlow("127.0.0.1"); u != "ward-1" {
		t.Fatalf("the one agent's connection source tied to %q", u)
	}
	if err := e.units.Put(context.Background(), unit.Spec{ID: "ward-2", Name: "Ward 2", Parent: "hcm", EnrollSecret: "ward-2-secret-0123456789"}); err != nil {
		t.Fatal(err)
	}
	e.mustEnroll(wire.EnrollRequest{Secret: "ward-2-secret-0123456789", Host: wire.Host{Name: "pc-2"}})
	if u := e.sendFlow("127.0.0.1"); u != "" {
		t.Fatalf("a source shared by two agents tied to %q", u)
	}
}

// Agents cannot write alerts, agent history or network records.
func TestAgentCannotSendReservedDatasets(t *testing.T) {
	e := newEnv(t)
	e.enroll()
	for _, ds := range []string{event.DatasetAlert, fleet.DatasetAgent, event.DatasetFlow, event.DatasetDNS, "lachan.audit"} {
		ok := event.New(event.DatasetYARA, time.Now())
		bad := event.New(ds, time.Now())
		bad.Set("rule.id", "forged")
		a, _ := json.Marshal(ok)
		b, _ := json.Marshal(bad)
		var we wire.Error
		if code := e.post(e.agent, wire.PathIngest, gz([][]byte{a, b}), gzipHdr, &we); code != 400 || we.Field != event.FieldDataset || we.Line != 2 {
			t.Errorf("%s from an agent: %d %+v, want 400 naming event.dataset at line 2", ds, code, we)
		}
	}
	if n := e.stored(); n != 0 {
		t.Fatalf("%d events stored from refused batches", n)
	}
	var page EventsPage
	e.get(e.admin, wire.PathAlerts, &page)
	if len(page.Events) != 0 {
		t.Fatalf("forged alerts listed: %+v", page.Events)
	}
}

func TestEnrollmentIsThrottled(t *testing.T) {
	e := newEnv(t)
	// Wrong secrets: refused, then throttled with Retry-After; a right
	// secret from the same address waits too.
	var first429 int
	for i := range 3000 {
		code, _, _, hdr := e.tryEnroll(wire.EnrollRequest{Secret: "guess-" + strconv.Itoa(i), Host: wire.Host{Name: "x"}})
		if code == http.StatusTooManyRequests {
			if ra, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("429 without a usable Retry-After: %q", hdr.Get("Retry-After"))
			}
			first429 = i
			break
		}
		if code != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d: %d", i, code)
		}
	}
	if first429 == 0 || first429 > DefaultEnrollConfig().FailuresPerAddress {
		t.Fatalf("first 429 after %d wrong secrets", first429)
	}
	if code, _, _, _ := e.tryEnroll(wire.EnrollRequest{Secret: secret, Host: wire.Host{Name: "pc"}}); code != http.StatusTooManyRequests {
		t.Fatalf("right secret from a throttled address: %d", code)
	}
}

func TestEnrollmentLimitsCodesRotation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Enroll.MaxAgentsPerSecret = 3
	e := newEnvWith(t, cfg)
	ctx := context.Background()
	for i := range 3 {
		e.mustEnroll(wire.EnrollRequest{Secret: secret, Host: wire.Host{Name: "pc-" + strconv.Itoa(i)}})
	}
	if code, we, _, _ := e.tryEnroll(wire.EnrollRequest{Secret: secret, Host: wire.Host{Name: "pc-4"}}); code != 401 || !strings.Contains(we.Error, "as many agents as it may") {
		t.Fatalf("fourth agent on a secret capped at 3: %d %+v", code, we)
	}
	// One-time codes: one use each, none after expiry.
	codes, err := e.units.IssueCodes(ctx, "ward-1", 2, time.Hour, "admin")
	if err != nil {
		t.Fatal(err)
	}
	p := e.mustEnroll(wire.EnrollRequest{Code: strings.ToLower(strings.ReplaceAll(codes[0], "-", "")), Host: wire.Host{Name: "pc-code"}})
	if a, _, _ := e.fleet.Get(ctx, p.id); a.Unit != "ward-1" || !strings.HasPrefix(a.Enrollment, "code:") {
		t.Fatalf("enrolled by code: %+v", a)
	}
	if code, _, _, _ := e.tryEnroll(wire.EnrollRequest{Code: codes[0], Host: wire.Host{Name: "pc-again"}}); code != 401 {
		t.Fatalf("code used twice: %d", code)
	}
	if _, _, err := e.units.RedeemCode(ctx, codes[1], "later", time.Now().Add(2*time.Hour)); err != unit.ErrBadCode {
		t.Fatalf("expired code: %v", err)
	}
	// Rotation: the new secret works (and starts a new count), the old
	// one only within its grace.
	fresh, err := e.units.RotateSecret(ctx, "ward-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _, _ := e.tryEnroll(wire.EnrollRequest{Secret: secret, Host: wire.Host{Name: "old"}}); code != 401 {
		t.Fatalf("old secret after rotation without grace: %d", code)
	}
	e.mustEnroll(wire.EnrollRequest{Secret: fresh, Host: wire.Host{Name: "new"}})
	again, _ := e.units.RotateSecret(ctx, "ward-1", time.Hour)
	e.mustEnroll(wire.EnrollRequest{Secret: fresh, Host: wire.Host{Name: "grace"}})
	e.mustEnroll(wire.EnrollRequest{Secret: again, Host: wire.Host{Name: "newest"}})
}

func TestRemoveRevokeReinstallRenew(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	hw := "4c4c4544-0042-3510-8052-b4c04f4e3732"
	old := e.mustEnroll(wire.EnrollRequest{Secret: secret, Host: wire.Host{Name: "pc-1", HardwareID: hw}})
	if code := e.checkIn(old, wire.Host{Name: "pc-1", HardwareID: hw}); code != 200 {
		t.Fatalf("check-in: %d", code)
	}
	// A reinstall on the same hardware takes the record over.
	fresh := e.mustEnroll(wire.EnrollRequest{Secret: secret, Host: wire.Host{Name: "pc-1", HardwareID: hw}})
	if fresh.id != old.id {
		t.Fatalf("reinstall made a second agent %s beside %s", fresh.id, old.id)
	}
	if all, _ := e.fleet.List(ctx, nil); len(all) != 1 {
		t.Fatalf("%d agents after a reinstall", len(all))
	}
	var we wire.Error
	if code := e.post(old.http, wire.PathCheckIn, jsonBody(wire.CheckInRequest{Host: wire.Host{Name: "pc-1"}}), nil, &we); code != 403 || !strings.Contains(we.Error, "replaced") {
		t.Fatalf("old installation's certificate: %d %+v", code, we)
	}
	if !strings.Contains(strings.Join(e.alertRules(), " "), "lachan:agent-reinstalled") {
		t.Fatal("no alert for the reinstall")
	}
	// Renewal: the old certificate works until the new one is used.
	key, c := csr()
	var rr wire.RenewResponse
	if code := e.post(fresh.http, wire.PathRenew, jsonBody(wire.RenewRequest{CSR: c}), nil, &rr); code != 200 {
		t.Fatalf("renew: %d", code)
	}
	renewed := &pc{http: e.clientFor(key, rr.Cert), id: fresh.id}
	if code := e.checkIn(fresh, wire.Host{Name: "pc-1", HardwareID: hw}); code != 200 {
		t.Fatalf("current certificate before the new one is used: %d", code)
	}
	if code := e.checkIn(renewed, wire.Host{Name: "pc-1", HardwareID: hw}); code != 200 {
		t.Fatalf("renewed certificate: %d", code)
	}
	if code := e.checkIn(fresh, wire.Host{Name: "pc-1", HardwareID: hw}); code != 403 {
		t.Fatalf("replaced certificate after the renewed one was used: %d", code)
	}
	// Revocation: refused on every request, renewal too.
	req, _ := http.NewRequest(http.MethodPost, e.url+wire.PathAgents+"/"+fresh.id+"/revoke", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	if resp, err := e.anon.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	for _, path := range []string{wire.PathCheckIn, wire.PathRenew, wire.PathIngest} {
		if code := e.post(renewed.http, path, jsonBody(wire.CheckInRequest{}), nil, &we); code != 403 || !strings.Contains(we.Error, "revoked") {
			t.Errorf("%s after revocation: %d %+v", path, code, we)
		}
	}
	// Removal: the record goes, the certificate of another agent too.
	other := e.mustEnroll(wire.EnrollRequest{Secret: secret, Host: wire.Host{Name: "pc-2"}})
	req, _ = http.NewRequest(http.MethodDelete, e.url+wire.PathAgents+"/"+other.id, nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	if resp, err := e.anon.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("remove: %v %v", resp, err)
	}
	if code := e.checkIn(other, wire.Host{Name: "pc-2"}); code != 403 {
		t.Fatalf("removed agent's check-in: %d", code)
	}
	if _, _, err := e.fleet.Get(ctx, other.id); err == nil {
		t.Fatal("removed agent still listed")
	}
}
