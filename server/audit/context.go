package audit

import "context"

type callerKey struct{}

// Caller is the role and source address of whoever acts through a
// context, for records made by a part that knows only the actor's name
// (the system registry's changes).
type Caller struct {
	Role   string
	Source string
}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller ctx carries, or the server itself (role
// RoleSystem) when none.
func CallerFrom(ctx context.Context) Caller {
	if c, ok := ctx.Value(callerKey{}).(Caller); ok {
		return c
	}
	return Caller{Role: RoleSystem}
}
