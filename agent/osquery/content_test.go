package osquery

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gen "github.com/osquery/osquery-go/gen/osquery"

	"lachan/internal/bundle"
	"lachan/rules"
)

func packFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := rules.FS.ReadFile("osquery/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestContentPacks(t *testing.T) {
	b := bundle.Bundle{Files: []bundle.File{
		{Path: "eicar.yar", Data: []byte("rule x { condition: true }")},
		{Path: "osquery/lachan-default/incident-response.conf", Data: packFile(t, "incident-response.conf")},
		{Path: "osquery/lachan-default/vuln-management.conf", Data: packFile(t, "vuln-management.conf")},
		{Path: "osquery/lachan-default/broken.conf", Data: []byte(`{"queries": {`)},
		{Path: "osquery/other/incident-response.conf", Data: packFile(t, "incident-response.conf")},
		{Path: "osquery/other/bad name.conf", Data: packFile(t, "it-compliance.conf")},
	}}
	packs, errs := ContentPacks(b)
	if len(packs) != 2 || len(packs["incident-response"].Queries) == 0 || len(packs["vuln-management"].Queries) == 0 {
		t.Errorf("packs %v", packs)
	}
	want := []string{"broken.conf", "bad name", "came earlier"}
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want %d", errs, len(want))
	}
	all := ""
	for _, e := range errs {
		all += e.Error() + "\n"
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("errors %q lack %q", all, w)
		}
	}
}

// TestExtensionSchedulesContentPacks: packs from the server's bundle are
// in the configuration osqueryd asks the extension for (through the
// harness that plays osqueryd), beside the agent's own, which keep their
// names; replacing them takes the old ones out.
func TestExtensionSchedulesContentPacks(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "osquery.em")
	mgr := newFakeManager()
	serveManager(t, sock, mgr)
	var out sink
	x, err := NewExtension(testExtensionConfig(sock), out.emit, nil)
	if err != nil {
		t.Fatal(err)
	}
	own := Pack{Queries: []Query{{Name: "users", SQL: "SELECT uid FROM users", Interval: time.Hour}}}
	if err := x.SetPolicy(Policy{Packs: map[string]Pack{"baseline": own}}); err != nil {
		t.Fatal(err)
	}
	ir, errs := ContentPacks(bundle.Bundle{Files: []bundle.File{{Path: "osquery/lachan-default/incident-response.conf", Data: packFile(t, "incident-response.conf")}}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	shadow := Pack{Queries: []Query{{Name: "other", SQL: "SELECT 1", Interval: time.Hour}}}
	ir["baseline"] = shadow
	if err := x.SetContentPacks(ir); err != nil {
		t.Fatal(err)
	}
	if err := x.SetContentPacks(map[string]Pack{"bad name": shadow}); err == nil {
		t.Fatal("a pack name osqueryd refuses was taken")
	}
	cancel := startExtension(t, x)
	defer cancel()
	var uuid gen.ExtensionRouteUUID
	select {
	case uuid = <-mgr.registered:
	case <-time.After(10 * time.Second):
		t.Fatal("the extension did not register")
	}
	osqd := dialExtension(t, sock, uuid)
	packs := func() map[string]configPack {
		resp := osqd.call("config", gen.ExtensionPluginRequest{"action": "genConfig"})
		var doc struct {
			Packs map[string]configPack `json:"packs"`
		}
		if resp.Status.Code != 0 || len(resp.Response) != 1 || json.Unmarshal([]byte(resp.Response[0][DefaultExtensionName]), &doc) != nil {
			t.Fatalf("genConfig: %+v", resp)
		}
		return doc.Packs
	}
	got := packs()
	if _, ok := got["baseline"].Queries["users"]; !ok || len(got["baseline"].Queries) != 1 {
		t.Errorf("the agent's own pack lost its name: %+v", got["baseline"])
	}
	q, ok := got["incident-response"].Queries["ir_deleted_binaries"]
	if !ok || q.Interval != 600 || !strings.Contains(q.Query, "on_disk = 0") {
		t.Errorf("incident-response pack: %+v", got["incident-response"])
	}
	if err := x.SetContentPacks(nil); err != nil {
		t.Fatal(err)
	}
	if got := packs(); len(got) != 1 || got["baseline"].Queries == nil {
		t.Errorf("after the content packs went: %+v", got)
	}
	osqd.trans.Close()
}
