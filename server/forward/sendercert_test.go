package forward

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"lachan/server/pki"
)

// TestSenderByCertificate: the receiver takes a client certificate that
// the CA issued to a sender as that sender, and refuses an agent's
// certificate from the same CA even when its common name is a sender's.
func TestSenderByCertificate(t *testing.T) {
	ca, err := pki.LoadOrCreate(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, t.TempDir())
	defer st.Close()
	wardKey := testKey(t, 1)
	rcv, err := NewReceiver([]Sender{{Name: "phuong-ben-thanh", Unit: "hcm.phuong-ben-thanh", PublicKey: FormatPublicKey(wardKey.Public().(ed25519.PublicKey))}},
		st, nil, "hcm", testKey(t, 9), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(rcv)
	srv.TLS = ca.ServerTLS()
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CAPEM())
	get := func(cert tls.Certificate) int {
		t.Helper()
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}}}
		resp, err := cl.Get("https://" + srv.Listener.Addr().String() + APIRootPath + "collections/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	issue := func(sign func(csr string) (string, error)) tls.Certificate {
		t.Helper()
		keyPEM, csrPEM, err := pki.NewClientRequest("whatever")
		if err != nil {
			t.Fatal(err)
		}
		certPEM, err := sign(string(csrPEM))
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair([]byte(certPEM), keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return pair
	}
	sender := issue(func(csr string) (string, error) { return ca.SignSender(csr, "phuong-ben-thanh") })
	agent := issue(func(csr string) (string, error) { return ca.SignAgent(csr, "phuong-ben-thanh", "hcm.phuong-ben-thanh") })
	other := issue(func(csr string) (string, error) { return ca.SignSender(csr, "phuong-khac") })
	if code := get(sender); code != 200 {
		t.Errorf("sender certificate: %d, want 200", code)
	}
	if code := get(agent); code != 401 {
		t.Errorf("agent certificate with a sender's name: %d, want 401", code)
	}
	if code := get(other); code != 401 {
		t.Errorf("sender certificate of an unregistered name: %d, want 401", code)
	}
}
