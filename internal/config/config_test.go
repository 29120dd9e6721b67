package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

type inner struct {
	Listen  string        `mapstructure:"listen"`
	Timeout time.Duration `mapstructure:"timeout"`
	Secret  string        `mapstructure:"secret" secret:"true"`
}

type sample struct {
	DataDir string   `mapstructure:"data_dir"`
	Paths   []string `mapstructure:"paths"`
	API     inner    `mapstructure:"api"`
}

func (s *sample) Validate() error {
	if s.DataDir == "" {
		return errString("data_dir must be set")
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }

func defaults() *sample {
	return &sample{DataDir: "/var/lib/x", API: inner{Listen: "127.0.0.1:1", Timeout: time.Second}}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     []string
		flags   []string
		want    func(*sample) bool
		wantErr string
	}{
		{name: "defaults", want: func(s *sample) bool { return s.DataDir == "/var/lib/x" && s.API.Timeout == time.Second }},
		{name: "file", file: "data_dir: /d\napi:\n  timeout: 5s\npaths: [a, b]\n",
			want: func(s *sample) bool { return s.DataDir == "/d" && s.API.Timeout == 5*time.Second && len(s.Paths) == 2 }},
		{name: "env over file", file: "data_dir: /d\n", env: []string{"LACHAN_DATA_DIR=/e", "LACHAN_API_LISTEN=:9"},
			want: func(s *sample) bool { return s.DataDir == "/e" && s.API.Listen == ":9" }},
		{name: "flag over env", env: []string{"LACHAN_DATA_DIR=/e"}, flags: []string{"--data-dir=/f"},
			want: func(s *sample) bool { return s.DataDir == "/f" }},
		{name: "unknown file key", file: "data_dir: /d\napi:\n  lisen: x\n", wantErr: "api.lisen"},
		{name: "unknown top key", file: "dta_dir: /d\n", wantErr: "dta_dir"},
		{name: "unknown env", env: []string{"LACHAN_DATA_DRI=/x"}, wantErr: "LACHAN_DATA_DRI"},
		{name: "non-config env ignored", env: []string{"LACHAN_ES_URL=http://x"}, want: func(s *sample) bool { return true }},
		{name: "bad duration", file: "api:\n  timeout: soon\n", wantErr: "timeout"},
		{name: "validate", file: "data_dir: ''\n", wantErr: "data_dir must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaults()
			opts := Options{Environ: append([]string{"HOME=/root"}, tt.env...)}
			if tt.file != "" {
				opts.File = writeFile(t, tt.file)
			}
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			fs.String("data-dir", "", "")
			fs.Bool("json", false, "")
			if err := fs.Parse(tt.flags); err != nil {
				t.Fatal(err)
			}
			opts.Flags = fs
			err := Load(cfg, opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(cfg) {
				t.Fatalf("got %+v", cfg)
			}
		})
	}
}

func TestPrintRedacts(t *testing.T) {
	cfg := defaults()
	cfg.API.Secret = "hunter2"
	var b strings.Builder
	if err := Print(&b, cfg); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "secret: (set)") || !strings.Contains(out, "timeout: 1s") {
		t.Fatalf("unexpected print:\n%s", out)
	}
}

func TestDecodeErrorIsOneLineNamingTheKey(t *testing.T) {
	cfg := defaults()
	err := Load(cfg, Options{File: writeFile(t, "api:\n  timeout: soon\n"), Environ: []string{}})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "api.timeout") {
		t.Fatalf("err = %q", err)
	}
}
