package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lachan/test/harness"
)

// TestRegistryCommands drives the registry and indicator commands that
// remove things: what is removed is gone from the lists, and a system's
// removal stays in its history.
func TestRegistryCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := harness.StartServer(ctx, bins.server, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	systems := "systems:\n  - id: mot-cua\n    name: {vi: Một cửa phường, en: Ward one-stop}\n    owner: " + harness.Unit +
		"\n    level: 2\n    layers:\n      on_site: {unit: " + harness.Unit + ", contact: \"Cán bộ CNTT\"}\n"
	file := filepath.Join(dir, "systems.yml")
	if err := os.WriteFile(file, []byte(systems), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := srv.CLI(ctx, args...)
		if err != nil {
			t.Fatalf("lachan %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("systems", "apply", file)
	if out := run("systems"); !strings.Contains(out, "mot-cua") {
		t.Fatalf("system not listed after apply:\n%s", out)
	}
	run("systems", "delete", "mot-cua")
	if out := run("systems"); strings.Contains(out, "mot-cua") {
		t.Errorf("system still listed after delete:\n%s", out)
	}
	if out := run("systems", "history", "mot-cua"); !strings.Contains(out, "delete") {
		t.Errorf("history does not record the removal:\n%s", out)
	}

	iocs := filepath.Join(dir, "iocs.txt")
	if err := os.WriteFile(iocs, []byte("# test\nbad.example.vn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("indicators", "add", iocs, "--no-sweep")
	var list struct {
		Indicators []struct{ ID, Value string } `json:"indicators"`
	}
	if err := srv.CLIJSON(ctx, &list, "indicators", "list", "--json"); err != nil || len(list.Indicators) != 1 {
		t.Fatalf("indicators list: %+v %v", list, err)
	}
	run("indicators", "remove", list.Indicators[0].ID)
	list.Indicators = nil
	if err := srv.CLIJSON(ctx, &list, "indicators", "list", "--json"); err != nil || len(list.Indicators) != 0 {
		t.Errorf("indicators after remove: %+v %v", list, err)
	}
}
