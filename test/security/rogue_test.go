package security

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/wire"
	"lachan/test/harness"
)

// rogue speaks the agent protocol by hand, as an attacker holding an
// enrollment secret (or a stolen agent certificate) would.
type rogue struct {
	t    *testing.T
	base string
	anon *http.Client
	cl   *http.Client
	id   string
}

func newRogue(t *testing.T, srv *harness.Server) *rogue {
	t.Helper()
	pem, err := os.ReadFile(srv.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &rogue{t: t, base: "https://" + srv.Addr,
		anon: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

// do sends v as JSON (or body as it is) and decodes the answer into out;
// it returns the status and the Retry-After header.
func (r *rogue) do(c *http.Client, method, path string, body io.Reader, hdr map[string]string, out any) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(b, out)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func (r *rogue) postJSON(c *http.Client, path string, v, out any) (int, string) {
	b, _ := json.Marshal(v)
	return r.do(c, http.MethodPost, path, bytes.NewReader(b), map[string]string{"Content-Type": "application/json"}, out)
}

// enroll asks for an agent identity; on success the rogue holds the
// certificate.
func (r *rogue) enroll(req wire.EnrollRequest) (int, wire.Error, string) {
	r.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	req.CSR = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	b, _ := json.Marshal(req)
	httpReq, _ := http.NewRequest(http.MethodPost, r.base+wire.PathEnroll, bytes.NewReader(b))
	resp, err := r.anon.Do(httpReq)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var we wire.Error
		_ = json.Unmarshal(body, &we)
		return resp.StatusCode, we, resp.Header.Get("Retry-After")
	}
	var er wire.EnrollResponse
	if err := json.Unmarshal(body, &er); err != nil {
		r.t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	pair, err := tls.X509KeyPair([]byte(er.Cert), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		r.t.Fatal(err)
	}
	tr := r.anon.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{pair}
	r.cl, r.id = &http.Client{Timeout: 20 * time.Second, Transport: tr}, er.AgentID
	return 200, wire.Error{}, ""
}

func (r *rogue) mustEnroll(secret string, h wire.Host) {
	r.t.Helper()
	if code, we, _ := r.enroll(wire.EnrollRequest{Secret: secret, Host: h}); code != 200 {
		r.t.Fatalf("enroll %s: %d %+v", h.Name, code, we)
	}
}

func (r *rogue) checkIn(h wire.Host) int {
	r.t.Helper()
	code, _ := r.postJSON(r.cl, wire.PathCheckIn, wire.CheckInRequest{Host: h}, nil)
	return code
}

// ingest sends events as an agent batch and returns the status and error.
func (r *rogue) ingest(evs ...event.Event) (int, wire.Error) {
	r.t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, ev := range evs {
		b, _ := ev.MarshalJSON()
		zw.Write(append(b, '\n'))
	}
	zw.Close()
	var we wire.Error
	code, _ := r.do(r.cl, http.MethodPost, wire.PathIngest, &buf, map[string]string{"Content-Type": wire.ContentTypeNDJSON, "Content-Encoding": "gzip"}, &we)
	return code, we
}

// operator calls the REST API with a bearer token.
func (r *rogue) operator(token, method, path string, out any) int {
	r.t.Helper()
	code, _ := r.do(r.anon, method, path, nil, map[string]string{"Authorization": "Bearer " + token}, out)
	return code
}

func adminToken(t *testing.T, srv *harness.Server) string {
	t.Helper()
	b, err := os.ReadFile(srvFile(srv, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func srvFile(srv *harness.Server, name string) string {
	return strings.TrimSuffix(srv.CAFile(), "pki/ca.pem") + name
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func eicarFile(i int) string {
	// The EICAR test string, assembled here so that this source file does
	// not trip a virus scanner on a developer's machine.
	return "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*" + fmt.Sprintf("%*s", i%40, "")
}
