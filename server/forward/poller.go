package forward

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"lachan/server/store"
)

// IndicatorSink takes indicators arriving from the upstream as a STIX
// bundle; the server wires it to its indicator set.
type IndicatorSink interface {
	AddSTIX(ctx context.Context, bundle []byte, source string) (int, error)
}

// KindState keeps the forwarder's cursors.
const KindState = "forward.state"

const cursorIndicators = "indicators.added_after"

// Poller fetches the indicators the upstream publishes.
type Poller struct {
	c    *Client
	pub  ed25519.PublicKey
	st   store.Store
	sink IndicatorSink
	log  *slog.Logger
}

// NewPoller returns a poller that trusts what pub signed.
func NewPoller(c *Client, pub ed25519.PublicKey, st store.Store, sink IndicatorSink, log *slog.Logger) *Poller {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Poller{c: c, pub: pub, st: st, sink: sink, log: log.With("component", "indicator-poll")}
}

// PollOnce fetches what was added since the last poll, hands it to the
// sink, and only then moves the cursor, so a failure fetches it again.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	doc, ver, err := p.st.GetEntity(ctx, KindState, cursorIndicators)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	var after string
	if doc != nil {
		if err := json.Unmarshal(doc, &after); err != nil {
			return 0, fmt.Errorf("indicator cursor: %w", err)
		}
	}
	objs, last, err := p.c.Poll(ctx, after, p.pub)
	if err != nil {
		return 0, err
	}
	if len(objs) == 0 {
		return 0, nil
	}
	bundle, err := Encode(Bundle{Type: "bundle", ID: ID("bundle", "poll", p.c.cfg.URL+"|"+last), Objects: objs})
	if err != nil {
		return 0, err
	}
	n, err := p.sink.AddSTIX(ctx, bundle, "upstream "+p.c.cfg.URL)
	if err != nil {
		return n, fmt.Errorf("add indicators: %w", err)
	}
	if last != after {
		cur, _ := json.Marshal(last)
		if _, err := p.st.PutEntity(ctx, KindState, cursorIndicators, cur, ver); err != nil {
			return n, fmt.Errorf("indicator cursor: %w", err)
		}
	}
	return n, nil
}

// Run polls every interval until ctx ends.
func (p *Poller) Run(ctx context.Context, interval time.Duration) {
	for {
		if n, err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("indicator poll", "err", err)
		} else if n > 0 {
			p.log.Info("indicators received", "count", n)
		}
		if sleep(ctx, interval) != nil {
			return
		}
	}
}
