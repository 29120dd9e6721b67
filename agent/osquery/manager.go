package osquery

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	osq "github.com/osquery/osquery-go"
	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/transport"
)

// managerClient is the extension's connection to osqueryd's extension
// manager. osquery-go's own client never closes its socket (one leaked
// descriptor per osqueryd restart) and cannot tell when registration
// succeeded; this one does both. Calls are serialized: a Thrift client
// carries one call at a time.
type managerClient struct {
	timeout      time.Duration
	onRegistered func(gen.ExtensionRouteUUID)

	mu     sync.Mutex
	trans  thrift.TTransport
	client *gen.ExtensionManagerClient
	closed bool
}

var _ osq.ExtensionManager = (*managerClient)(nil)

var errClientClosed = errors.New("connection to osqueryd closed")

func dialManager(socket string, timeout time.Duration, onRegistered func(gen.ExtensionRouteUUID)) (*managerClient, error) {
	trans, err := transport.Open(socket, timeout)
	if err != nil {
		return nil, err
	}
	return &managerClient{
		timeout: timeout, onRegistered: onRegistered, trans: trans,
		client: gen.NewExtensionManagerClientFactory(trans, thrift.NewTBinaryProtocolFactoryDefault()),
	}, nil
}

// do runs one call under the lock with the client's time-out.
func (c *managerClient) do(fn func(ctx context.Context, m *gen.ExtensionManagerClient) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClientClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	return fn(ctx, c.client)
}

func (c *managerClient) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.trans.Close()
	}
}

func (c *managerClient) Ping() (st *gen.ExtensionStatus, err error) {
	err = c.do(func(ctx context.Context, m *gen.ExtensionManagerClient) error { st, err = m.Ping(ctx); return err })
	return st, err
}

func (c *managerClient) Call(registry, item string, req gen.ExtensionPluginRequest) (r *gen.ExtensionResponse, err error) {
	err = c.do(func(ctx context.Context, m *gen.ExtensionManagerClient) error {
		r, err = m.Call(ctx, registry, item, req)
		return err
	})
	return r, err
}

func (c *managerClient) Extensions() (l gen.InternalExtensionList, err error) {
	err = c.do(func(ctx context.Context, m *gen.ExtensionManagerClient) error { l, err = m.Extensions(ctx); return err })
	return l, err
}

func (c *managerClient) RegisterExtension(info *gen.InternalExtensionInfo, reg gen.ExtensionRegistry) (st *gen.ExtensionStatus, err error) {
	err = c.do(func(ctx context.Context, m *gen.ExtensionManagerClient) error {
		st, err = m.RegisterExtension(ctx, info, reg)
		return err
	})
	if err == nil && st != nil && st.Code == 0 && c.onRegistered != nil {
		c.onRegistered(st.UUID)
	}
	if err == nil && st == nil {
		err = errors.New("registration answered without a status")
	}
	return st, err
}

func (c *managerClient) DeregisterExtension(uuid gen.ExtensionRouteUUID) (st *gen.ExtensionStatus, err error) {
	err = c.do(func(ctx context.Context, m *gen.ExtensionManagerClient) error {
		st, err = m.DeregisterExtension(ctx, uuid)
		return err
	})
	if err == nil && st == nil {
		err = errors.New("deregistration answered without a status")
	}
	return st, err
}

func (c *managerClient) Options() (l gen.InternalOptionList, err error) {
	err = c.do(func(ctx context.Context, m *gen.ExtensionManagerClient) error { l, err = m.Options(ctx); return err })
	return l, err
}

func (c *managerClient) Query(sql string) (r *gen.ExtensionResponse, err error) {
	err = c.do(func(ctx context.Context, m *gen.ExtensionManagerClient) error { r, err = m.Query(ctx, sql); return err })
	return r, err
}

func (c *managerClient) GetQueryColumns(sql string) (r *gen.ExtensionResponse, err error) {
	err = c.do(func(ctx context.Context, m *gen.ExtensionManagerClient) error {
		r, err = m.GetQueryColumns(ctx, sql)
		return err
	})
	return r, err
}
