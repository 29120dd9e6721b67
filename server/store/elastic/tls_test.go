package elastic

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/internal/logging"
)

// tlsCluster is a TLS node that records the Authorization headers it saw.
func tlsCluster(t *testing.T) (*httptest.Server, *[]string) {
	f, _ := newFake(t)
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		f.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &auth
}

func writeCA(t *testing.T, srv *httptest.Server) string { return writePEM(t, srv.Certificate().Raw) }

// selfSigned makes a CA certificate unrelated to the test server's.
func selfSigned(t *testing.T) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, der []byte) string {
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTLSAndAuth(t *testing.T) {
	srv, auth := tlsCluster(t)
	otherDER := selfSigned(t)
	sum := sha256.Sum256(srv.Certificate().Raw)
	wrong := sha256.Sum256(otherDER)
	tests := []struct {
		name     string
		set      func(c *Config)
		ok       bool
		wantAuth string
	}{
		{"pinned CA, API key", func(c *Config) { c.CAFile = writeCA(t, srv); c.APIKey = "a2V5OnNlY3JldA==" }, true, "APIKey a2V5OnNlY3JldA=="},
		{"pinned CA, user", func(c *Config) { c.CAFile = writeCA(t, srv); c.Username, c.Password = "lachan", "pw" }, true, "Basic bGFjaGFuOnB3"},
		{"fingerprint", func(c *Config) { c.CAFingerprint = strings.ToUpper(hex.EncodeToString(sum[:])) }, true, ""},
		{"other CA", func(c *Config) { c.CAFile = writePEM(t, otherDER) }, false, ""},
		{"wrong fingerprint", func(c *Config) { c.CAFingerprint = hex.EncodeToString(wrong[:]) }, false, ""},
		{"system roots only", func(c *Config) {}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			*auth = nil
			cfg := testConfig(srv.URL, "")
			tc.set(&cfg)
			e, err := Open(context.Background(), cfg, logging.Discard())
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			_, err = e.PutEvents(context.Background(), []event.Event{ev("a", event.DatasetFlow, nil)})
			if tc.ok != (err == nil) {
				t.Fatalf("PutEvents: %v, want success %v", err, tc.ok)
			}
			if tc.ok && tc.wantAuth != "" && (len(*auth) == 0 || (*auth)[0] != tc.wantAuth) {
				t.Fatalf("Authorization %q, want %q", *auth, tc.wantAuth)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.Addresses = []string{"https://es1:9200"}
	if err := good.Validate(); err != nil {
		t.Fatalf("default config with an address: %v", err)
	}
	tests := []struct {
		name, want string
		set        func(c *Config)
	}{
		{"no address", "addresses", func(c *Config) { c.Addresses = nil }},
		{"bad address", "addresses[0]", func(c *Config) { c.Addresses = []string{"es1:9200"} }},
		{"password alone", "password", func(c *Config) { c.Password = "x" }},
		{"bad fingerprint", "ca_fingerprint", func(c *Config) { c.CAFingerprint = "abc" }},
		{"bad prefix", "index_prefix", func(c *Config) { c.IndexPrefix = "Lachan*" }},
		{"bad refresh", "refresh", func(c *Config) { c.Refresh = "sometimes" }},
		{"bad rollover", "rollover_size", func(c *Config) { c.RolloverSize = "50 GB" }},
		{"short retention", "retention.network", func(c *Config) { c.Retention.Network = time.Minute }},
	}
	for _, tc := range tests {
		c := good
		tc.set(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "store.elastic."+tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}
