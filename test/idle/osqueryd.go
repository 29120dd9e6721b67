package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/transport"
)

// distributedInterval is osqueryd's default --distributed_interval.
const distributedInterval = 60 * time.Second

// osqueryd plays osqueryd's extension manager at a socket: it registers
// the agent's extension, asks its config plugin for the configuration once
// and its distributed plugin for queries every distributedInterval, and
// answers pings, as osqueryd does.
type osqueryd struct {
	sock    string
	srv     *thrift.TSimpleServer
	done    chan struct{}
	joined  chan gen.ExtensionRouteUUID
	quit    chan struct{}
	once    sync.Once
	configs atomic.Int64
	reads   atomic.Int64
	next    atomic.Int64
}

var _ gen.ExtensionManager = (*osqueryd)(nil)

func startOsqueryd(sock string) (*osqueryd, error) {
	addr, err := net.ResolveUnixAddr("unix", sock)
	if err != nil {
		return nil, err
	}
	o := &osqueryd{sock: sock, done: make(chan struct{}), joined: make(chan gen.ExtensionRouteUUID, 4), quit: make(chan struct{})}
	o.next.Store(1000)
	o.srv = thrift.NewTSimpleServer2(gen.NewExtensionManagerProcessor(o), thrift.NewTServerSocketFromAddrTimeout(addr, 0))
	o.srv.SetLogger(func(string) {})
	if err := o.srv.Listen(); err != nil {
		return nil, fmt.Errorf("osqueryd stand-in at %s: %w", sock, err)
	}
	go func() { defer close(o.done); _ = o.srv.AcceptLoop() }()
	return o, nil
}

func (o *osqueryd) stop() {
	o.once.Do(func() { close(o.quit); _ = o.srv.Stop(); <-o.done })
}

// waitJoined waits for the extension to register, then starts calling it.
func (o *osqueryd) waitJoined(ctx context.Context, timeout time.Duration) error {
	select {
	case uuid := <-o.joined:
		go o.drive(uuid)
		return nil
	case <-time.After(timeout):
		return errors.New("the agent's extension did not register with the osqueryd stand-in")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drive calls the extension's plugins over its own socket, <sock>.<uuid>.
func (o *osqueryd) drive(uuid gen.ExtensionRouteUUID) {
	trans, err := transport.Open(o.sock+"."+strconv.FormatInt(int64(uuid), 10), 10*time.Second)
	if err != nil {
		return
	}
	defer trans.Close()
	c := gen.NewExtensionClientFactory(trans, thrift.NewTBinaryProtocolFactoryDefault())
	call := func(registry string, req gen.ExtensionPluginRequest, n *atomic.Int64) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if r, err := c.Call(ctx, registry, "lachan", req); err == nil && r.Status != nil && r.Status.Code == 0 {
			n.Add(1)
		}
	}
	call("config", gen.ExtensionPluginRequest{"action": "genConfig"}, &o.configs)
	tick := time.NewTicker(distributedInterval)
	defer tick.Stop()
	for {
		select {
		case <-o.quit:
			return
		case <-tick.C:
			call("distributed", gen.ExtensionPluginRequest{"action": "getQueries"}, &o.reads)
		}
	}
}

func (o *osqueryd) Ping(context.Context) (*gen.ExtensionStatus, error) {
	return &gen.ExtensionStatus{Code: 0, Message: "OK"}, nil
}

func (o *osqueryd) Call(context.Context, string, string, gen.ExtensionPluginRequest) (*gen.ExtensionResponse, error) {
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 1, Message: "no such plugin"}}, nil
}

func (o *osqueryd) Shutdown(context.Context) error { return nil }

func (o *osqueryd) Extensions(context.Context) (gen.InternalExtensionList, error) {
	return gen.InternalExtensionList{}, nil
}

func (o *osqueryd) Options(context.Context) (gen.InternalOptionList, error) {
	return gen.InternalOptionList{}, nil
}

func (o *osqueryd) RegisterExtension(_ context.Context, _ *gen.InternalExtensionInfo, _ gen.ExtensionRegistry) (*gen.ExtensionStatus, error) {
	uuid := gen.ExtensionRouteUUID(o.next.Add(1))
	select {
	case o.joined <- uuid:
	default:
	}
	return &gen.ExtensionStatus{Code: 0, Message: "OK", UUID: uuid}, nil
}

func (o *osqueryd) DeregisterExtension(context.Context, gen.ExtensionRouteUUID) (*gen.ExtensionStatus, error) {
	return &gen.ExtensionStatus{Code: 0, Message: "OK"}, nil
}

func (o *osqueryd) Query(context.Context, string) (*gen.ExtensionResponse, error) {
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0, Message: "OK"}, Response: gen.ExtensionPluginResponse{}}, nil
}

func (o *osqueryd) GetQueryColumns(context.Context, string) (*gen.ExtensionResponse, error) {
	return &gen.ExtensionResponse{Status: &gen.ExtensionStatus{Code: 0, Message: "OK"}}, nil
}
