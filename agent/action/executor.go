package action

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"lachan/internal/action"
)

// Files and folders under Config.Dir.
const (
	ledgerFile    = "ledger.json"
	resultsDir    = "results"
	isolationFile = "isolation.json"
	blockedFile   = "blocked.json"
	quarantineDir = "quarantine"
)

// handler runs one verified action and fills the result's output and
// evidence; an error makes the result failed.
type handler func(ctx context.Context, a action.Action, r *action.Result) error

// Executor verifies and runs actions, one at a time.
type Executor struct {
	cfg     Config
	agentID string
	key     func() ed25519.PublicKey
	osquery func(id, sql string) error
	led     *ledger
	out     *outbox
	log     *slog.Logger
	now     func() time.Time
	// mu runs one action at a time: two isolations, or a quarantine and
	// its restore, never interleave.
	mu       sync.Mutex
	handlers map[string]handler
}

// New opens the ledger and the outbox under cfg.Dir. key returns the
// pinned action key (nil while none is pinned: every action is refused);
// osquery queues a live query (nil: osquery actions fail, saying so).
// Actions the agent was running when it last stopped are reported as
// interrupted, never run again.
func New(cfg Config, agentID string, key func() ed25519.PublicKey, osquery func(id, sql string) error, log *slog.Logger) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("actions: no state directory")
	}
	led, err := openLedger(filepath.Join(cfg.Dir, ledgerFile))
	if err != nil {
		return nil, err
	}
	out, err := openOutbox(filepath.Join(cfg.Dir, resultsDir), log)
	if err != nil {
		return nil, err
	}
	e := &Executor{cfg: cfg, agentID: agentID, key: key, osquery: osquery, led: led, out: out, log: log, now: time.Now}
	e.handlers = map[string]handler{
		action.KindIsolate: e.isolate, action.KindRelease: e.release,
		action.KindKillProcess: e.kill, action.KindQuarantineFile: e.quarantine, action.KindRestoreFile: e.restore,
		action.KindCollectFile: e.collect, action.KindBlockAddress: e.block, action.KindUnblockAddress: e.unblock,
		action.KindDisableAccount: e.disableAccount, action.KindOsquery: e.runOsquery,
	}
	for id, en := range led.interrupted() {
		r := action.Result{ActionID: id, AgentID: agentID, Kind: en.Kind, Status: action.ResultFailed, Finished: e.now().UTC(),
			Reason: "bị gián đoạn do tác tử khởi động lại; không chạy lại / interrupted by an agent restart; not run again"}
		if err := out.put(r); err != nil {
			return nil, err
		}
		if err := led.finish(id); err != nil {
			return nil, err
		}
		log.Warn("action interrupted by a restart; reported, not run again", "action", id, "kind", en.Kind)
	}
	return e, nil
}

// Run sends results to the server until ctx ends.
func (e *Executor) Run(ctx context.Context, s Sender) { e.out.run(ctx, s, time.Second, time.Minute) }

// Waiting is how many results wait for the server.
func (e *Executor) Waiting() int { return e.out.Len() }

// Handle verifies and runs the actions of one check-in, in order.
func (e *Executor) Handle(ctx context.Context, signed []action.Signed) {
	for _, s := range signed {
		r := e.handle(ctx, s)
		if err := e.out.put(r); err != nil {
			// The ledger already holds the action: it will not run again,
			// and the next start reports it as interrupted.
			e.log.Error("action result not kept", "action", r.ActionID, "err", err)
			continue
		}
		if r.Status != action.ResultRefused {
			if err := e.led.finish(r.ActionID); err != nil {
				e.log.Error("action ledger not updated", "action", r.ActionID, "err", err)
			}
		}
	}
}

// handle runs one signed action and returns its result; it never panics
// on what the server (or an attacker) sent.
func (e *Executor) handle(ctx context.Context, s action.Signed) action.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	a, err := e.admit(s, now)
	if err != nil {
		id := a.ID
		if id == "" {
			id, _ = action.Claimed(s.Payload)
		}
		if id == "" {
			sum := sha256.Sum256(s.Payload)
			id = "unknown-" + hex.EncodeToString(sum[:8])
		}
		e.log.Warn("action refused", "action", id, "reason", err.Error())
		return action.Result{ActionID: id, AgentID: e.agentID, Kind: a.Kind, Status: action.ResultRefused, Reason: err.Error(), Finished: now.UTC()}
	}
	r := action.Result{ActionID: a.ID, AgentID: e.agentID, Kind: a.Kind, Started: now.UTC(), Evidence: map[string]string{}}
	e.log.Info("action started", "action", a.ID, "kind", a.Kind, "args", a.Args)
	err = e.run(ctx, a, &r)
	r.Finished = e.now().UTC()
	r.Status = action.ResultDone
	if err != nil {
		r.Status, r.Reason = action.ResultFailed, err.Error()
		e.log.Warn("action failed", "action", a.ID, "kind", a.Kind, "err", err)
	} else {
		e.log.Info("action done", "action", a.ID, "kind", a.Kind)
	}
	return r
}

// admit verifies an action and records it as started; any error is a
// refusal and nothing was done.
func (e *Executor) admit(s action.Signed, now time.Time) (action.Action, error) {
	if e.cfg.Disabled {
		a, _ := action.Decode(s.Payload)
		return a, errors.New("response actions are disabled on this PC (actions.disabled)")
	}
	a, err := action.Verify(s, e.key(), e.agentID, now)
	if err != nil {
		return a, err
	}
	if err := e.led.begin(a, now); err != nil {
		return a, err
	}
	return a, nil
}

// run calls the kind's handler, turning a panic into a failure so that a
// bug in one action never takes the agent down.
func (e *Executor) run(ctx context.Context, a action.Action, r *action.Result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("action %s crashed: %v", a.Kind, p)
		}
	}()
	h, ok := e.handlers[a.Kind]
	if !ok {
		return fmt.Errorf("kind %q not supported by this agent", a.Kind)
	}
	return h(ctx, a, r)
}

func (e *Executor) runOsquery(_ context.Context, a action.Action, r *action.Result) error {
	if e.osquery == nil {
		return errors.New("osquery is not running on this PC")
	}
	if err := e.osquery(a.ID, a.Args["sql"]); err != nil {
		return err
	}
	r.Output = "đã chuyển cho osquery; kết quả về dưới dạng sự kiện osquery.live / queued; rows arrive as osquery.live events with osquery.live.id " + a.ID
	return nil
}
