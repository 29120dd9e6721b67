package elastic

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lachan/internal/logging"
	"lachan/server/store"
	"lachan/server/store/storetest"
)

var liveSeq atomic.Int64

// liveConfig returns the configuration of the cluster named by
// LACHAN_ES_URL, or skips the test.
func liveConfig(t *testing.T) Config {
	url := os.Getenv("LACHAN_ES_URL")
	if url == "" {
		t.Skip("LACHAN_ES_URL is not set: no Elasticsearch cluster to run the conformance suite against " +
			"(set it, with LACHAN_ES_API_KEY or LACHAN_ES_USER/LACHAN_ES_PASSWORD, and LACHAN_ES_CA for TLS)")
	}
	cfg := DefaultConfig()
	cfg.Addresses = strings.Split(url, ",")
	cfg.APIKey = os.Getenv("LACHAN_ES_API_KEY")
	cfg.Username, cfg.Password = os.Getenv("LACHAN_ES_USER"), os.Getenv("LACHAN_ES_PASSWORD")
	cfg.CAFile = os.Getenv("LACHAN_ES_CA")
	cfg.Replicas = 0
	cfg.IndexPrefix = fmt.Sprintf("lachan-test-%d-%d", time.Now().UnixNano()%1e9, liveSeq.Add(1))
	return cfg
}

// openLive opens an engine on a fresh index prefix and removes everything
// under that prefix when the test ends.
func openLive(t *testing.T) store.Store {
	cfg := liveConfig(t)
	e, err := Open(context.Background(), cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ensureSetup(context.Background()); err != nil {
		t.Fatalf("set up the layout on %v: %v", cfg.Addresses, err)
	}
	t.Cleanup(func() {
		e.Close()
		cleanupLive(t, cfg)
	})
	return e
}

func cleanupLive(t *testing.T, cfg Config) {
	c, err := Open(context.Background(), cfg, logging.Discard())
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer c.Close()
	n := c.names
	ctx := context.Background()
	for _, p := range [][]string{
		{"_data_stream", n.prefix + "-events-*"},
		{n.entities()}, {n.deadLetters()},
	} {
		c.do(ctx, request{method: http.MethodDelete, path: p})
	}
	for _, k := range store.DataKinds {
		c.do(ctx, request{method: http.MethodDelete, path: []string{"_index_template", n.stream(k)}})
		c.do(ctx, request{method: http.MethodDelete, path: []string{"_ilm", "policy", n.stream(k)}})
	}
	c.do(ctx, request{method: http.MethodDelete, path: []string{"_component_template", n.component()}})
}

func TestLiveConformance(t *testing.T) {
	liveConfig(t)
	storetest.Run(t, openLive)
}
