package unit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lachan/server/store/embedded/embeddedtest"
)

func registry(t *testing.T) *Registry {
	t.Helper()
	st := embeddedtest.Open(t)
	return NewRegistry(st)
}

func TestTreeAndSecrets(t *testing.T) {
	ctx := context.Background()
	r := registry(t)
	specs := []Spec{
		{ID: "hcm", Name: "Thành phố"},
		{ID: "so-tttt", Name: "Sở TT&TT", Parent: "hcm", EnrollSecret: "secret-of-so-tttt-01"},
		{ID: "so-tttt.phong-a", Name: "Phòng A", Parent: "so-tttt"},
		{ID: "phuong-1", Name: "Phường 1", Parent: "hcm", EnrollSecret: "secret-of-phuong-1-01"},
	}
	if err := r.Apply(ctx, specs); err != nil {
		t.Fatal(err)
	}
	sub, err := r.Subtree(ctx, "so-tttt")
	if err != nil || !slices.Equal(sub, []string{"so-tttt", "so-tttt.phong-a"}) {
		t.Fatalf("subtree: %v %v", sub, err)
	}
	all, _ := r.Subtree(ctx, "hcm")
	if len(all) != 4 {
		t.Fatalf("city subtree: %v", all)
	}
	u, err := r.BySecret(ctx, "secret-of-phuong-1-01")
	if err != nil || u.ID != "phuong-1" {
		t.Fatalf("by secret: %+v %v", u, err)
	}
	if _, err := r.BySecret(ctx, "nope"); !errors.Is(err, ErrBadSecret) {
		t.Fatalf("wrong secret: %v", err)
	}
	// Renaming keeps the secret; moving under its own child is a cycle.
	if err := r.Put(ctx, Spec{ID: "phuong-1", Name: "Phường Một", Parent: "hcm"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.BySecret(ctx, "secret-of-phuong-1-01"); err != nil {
		t.Fatalf("secret lost on rename: %v", err)
	}
	if err := r.Put(ctx, Spec{ID: "so-tttt", Name: "x", Parent: "so-tttt.phong-a"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle accepted: %v", err)
	}
	if err := r.Put(ctx, Spec{ID: "x", Name: "x", Parent: "missing"}); err == nil {
		t.Fatal("missing parent accepted")
	}
}

func TestLoadFileErrors(t *testing.T) {
	cases := map[string]string{
		"units:\n  - id: a\n    name: A\n    colour: red\n":          "colour",
		"units:\n  - id: a\n    name: A\n  - id: a\n    name: B\n":   "given twice",
		"units:\n  - id: a\n    name: A\n    parent: z\n":            `parent "z"`,
		"units:\n  - id: A B\n    name: A\n":                         "2:5",
		"units:\n  - id: a\n    name: A\n    enroll_secret: short\n": "shorter than 16",
		"units:\n  - id: a\n    name: ''\n":                          "name is empty",
	}
	for body, want := range cases {
		p := filepath.Join(t.TempDir(), "units.yml")
		os.WriteFile(p, []byte(body), 0o600)
		_, err := LoadFile(p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want one containing %q", body, err, want)
		}
	}
	if _, err := LoadFile("../../deploy/examples/units.yml"); err != nil {
		t.Fatalf("example units file: %v", err)
	}
}
