package app

import (
	"context"
	"fmt"
	"sync"
)

// group runs goroutines that live and die together: the first one to fail
// cancels the group's context, and Wait returns that first error once all
// have returned.
type group struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

func newGroup(parent context.Context) *group {
	ctx, cancel := context.WithCancelCause(parent)
	return &group{ctx: ctx, cancel: cancel}
}

// Go runs fn in a goroutine; an error it returns, named after the member,
// stops the group.
func (g *group) Go(name string, fn func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := fn(); err != nil {
			g.fail(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

func (g *group) fail(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	g.cancel(err)
}

// Wait waits for every member and returns the first error.
func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel(nil)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}
