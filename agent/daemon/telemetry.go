package daemon

import (
	"context"
	"fmt"
	"sort"

	"lachan/internal/wire"
)

// telemetryLoop runs the endpoint telemetry collector; a collector that
// cannot start says why in the status sent at check-in.
func (d *Daemon) telemetryLoop(ctx context.Context) {
	if err := d.tel.Run(ctx); err != nil && ctx.Err() == nil {
		d.log.Error("endpoint telemetry not collected", "err", err)
	}
}

// telemetryStatus adds the collector's state and drop counts to st.
func (d *Daemon) telemetryStatus(st *wire.Status) {
	if d.tel == nil {
		return
	}
	st.Telemetry = d.tel.Status()
	st.TelemetryDropped = d.tel.Dropped()
	kinds := make([]string, 0, len(st.Telemetry))
	for k := range st.Telemetry {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if s := st.Telemetry[k]; s != "ok" && s != "starting" {
			st.Errors = append(st.Errors, fmt.Sprintf("%s telemetry: %s", k, s))
		}
	}
}
