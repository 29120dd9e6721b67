package windows

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lachan/test/shareddata"
	"lachan/test/wineprefix"
)

// version is what the test builds carry, as make would set it.
const version = "0.1.0"

// built holds what the tests share: one signed build of the .exe per run
// (the Go build cache keeps libyara's compiled C sources between runs).
var built struct {
	once     sync.Once
	err      error
	dir      string
	exe      string
	key      string
	cert     string
	duration time.Duration
}

var workDir string

func TestMain(m *testing.M) {
	var err error
	if workDir, err = os.MkdirTemp("", "lachan-windows-test"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(workDir)
	os.Exit(code)
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := shareddata.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// agentExe returns the signed lachan-agent.exe and the certificate that
// signed it, building both once.
func agentExe(t testing.TB) (exe, key, cert string) {
	t.Helper()
	wineprefix.Need(t, "x86_64-w64-mingw32-gcc", "gcc-mingw-w64-x86-64")
	wineprefix.Need(t, "osslsigncode", "osslsigncode")
	root := repoRoot(t)
	built.once.Do(func() {
		built.dir = workDir
		built.key, built.cert, built.err = signingKey(built.dir)
		if built.err != nil {
			return
		}
		built.exe = filepath.Join(built.dir, "lachan-agent.exe")
		start := time.Now()
		built.err = buildScript(root, built.key, built.cert, "exe", built.exe, version)
		built.duration = time.Since(start)
	})
	if built.err != nil {
		t.Fatalf("build lachan-agent.exe: %v", built.err)
	}
	t.Logf("lachan-agent.exe built and signed in %s", built.duration.Round(time.Millisecond))
	return built.exe, built.key, built.cert
}

// buildScript runs deploy/windows/build.sh, signing with key and cert.
func buildScript(root, key, cert string, args ...string) error {
	cmd := exec.Command(filepath.Join(root, "deploy", "windows", "build.sh"), args...)
	cmd.Env = append(os.Environ(), "SIGN_KEY="+key, "SIGN_CERT="+cert)
	if out, err := cmd.CombinedOutput(); err != nil {
		return &cmdError{args: args, err: err, out: out}
	}
	return nil
}

type cmdError struct {
	args []string
	err  error
	out  []byte
}

func (e *cmdError) Error() string {
	return "build.sh " + e.args[0] + ": " + e.err.Error() + "\n" + string(e.out)
}

// signingKey writes a throwaway RSA key and a self-signed code-signing
// certificate for it, valid for a day.
func signingKey(dir string) (key, cert string, err error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "La Chan test code signing", Organization: []string{"La Chan tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return "", "", err
	}
	key, cert = filepath.Join(dir, "test-signing.key"), filepath.Join(dir, "test-signing.pem")
	kb := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if err := os.WriteFile(key, kb, 0o600); err != nil {
		return "", "", err
	}
	cb := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return key, cert, os.WriteFile(cert, cb, 0o644)
}
