package forward

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// maxPagesPerPoll bounds one PollOnce; the rest waits for the next.
const maxPagesPerPoll = 100

// PollOnce fetches what was added since the last poll, page by page,
// handing each page to the sink and only then moving the cursor past it,
// so a failure fetches that page again.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	doc, ver, err := p.st.GetEntity(ctx, KindState, cursorIndicators)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	var cur PollCursor
	if doc != nil {
		if err := decodeCursor(doc, &cur); err != nil {
			return 0, fmt.Errorf("indicator cursor: %w", err)
		}
	}
	total := 0
	for range maxPagesPerPoll {
		objs, next, more, err := p.c.Poll(ctx, cur, p.pub)
		var se *SendError
		if err != nil && cur.Next != "" && errors.As(err, &se) && se.Status == http.StatusBadRequest {
			// A next the upstream no longer takes (a restart, another
			// replica): read again from the last complete poll; indicators
			// already held are not added twice.
			p.log.Warn("upstream refused the page mark; polling again from the last complete poll", "err", err)
			cur.Next = ""
			continue
		}
		if err != nil {
			return total, err
		}
		if len(objs) > 0 {
			bundle, err := Encode(Bundle{Type: "bundle", ID: ID("bundle", "poll", p.c.cfg.URL+"|"+cur.AddedAfter+"|"+cur.Next), Objects: objs})
			if err != nil {
				return total, err
			}
			n, err := p.sink.AddSTIX(ctx, bundle, "upstream "+p.c.cfg.URL)
			total += n
			if err != nil {
				return total, fmt.Errorf("add indicators: %w", err)
			}
		}
		if next != cur {
			doc, _ := json.Marshal(next)
			if ver, err = p.st.PutEntity(ctx, KindState, cursorIndicators, doc, ver); err != nil {
				return total, fmt.Errorf("indicator cursor: %w", err)
			}
			cur = next
		}
		if !more {
			return total, nil
		}
	}
	return total, nil
}

// decodeCursor reads the stored cursor: a PollCursor, or the bare
// added_after string earlier versions kept.
func decodeCursor(doc []byte, cur *PollCursor) error {
	var s string
	if json.Unmarshal(doc, &s) == nil {
		*cur = PollCursor{AddedAfter: s}
		return nil
	}
	return json.Unmarshal(doc, cur)
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
