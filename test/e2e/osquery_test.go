package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lachan/internal/event"
	"lachan/server/api"
	"lachan/server/fleet"
	"lachan/test/harness"
)

// TestRealOsqueryd runs only where a real osqueryd is reachable: start it
// with --extensions_socket=$LACHAN_OSQUERY_SOCKET --config_plugin=lachan
// --logger_plugin=lachan --disable_distributed=false
// --distributed_plugin=lachan --extensions_require=lachan. The agent joins
// it as an extension and the results of its schedule reach the server.
func TestRealOsqueryd(t *testing.T) {
	sock := os.Getenv("LACHAN_OSQUERY_SOCKET")
	if sock == "" {
		t.Skip("LACHAN_OSQUERY_SOCKET not set: no real osqueryd to test against (the extension protocol is tested in agent/osquery against osquery-go's Thrift server)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := harness.StartServer(ctx, bins.server, filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ag, err := harness.StartAgent(bins.agent, filepath.Join(dir, "agent"), srv, harness.AgentOptions{OsquerySocket: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Stop()
	err = harness.WaitFor(ctx, 4*time.Minute, func() (bool, error) {
		var out struct{ Agents []fleet.Agent }
		if err := srv.CLIJSON(ctx, &out, "agents"); err != nil || len(out.Agents) == 0 || out.Agents[0].Status.Osquery != "ok" {
			return false, err
		}
		var page api.EventsPage
		err := srv.CLIJSON(ctx, &page, "events", "--dataset", event.DatasetOsquery)
		return len(page.Events) > 0, err
	})
	if err != nil {
		t.Fatalf("no osquery results from the real osqueryd: %v\nagent log:\n%s", err, ag.Tail())
	}
}
