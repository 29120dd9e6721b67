package harness

import (
	"context"
	"slices"
	"time"

	"lachan/server/fleet"
	"lachan/server/incident"
)

// WaitAgent polls the server's agents until one that ok accepts is listed,
// and returns it.
func WaitAgent(ctx context.Context, srv *Server, timeout time.Duration, ok func(fleet.Agent) bool) (fleet.Agent, error) {
	var got fleet.Agent
	err := WaitFor(ctx, timeout, func() (bool, error) {
		var out struct {
			Agents []fleet.Agent `json:"agents"`
		}
		if err := srv.CLIJSON(ctx, &out, "agents"); err != nil {
			return false, err
		}
		i := slices.IndexFunc(out.Agents, ok)
		if i < 0 {
			return false, nil
		}
		got = out.Agents[i]
		return true, nil
	})
	return got, err
}

// WaitIncident polls the server's incidents until one that ok accepts is
// listed, and returns it.
func WaitIncident(ctx context.Context, srv *Server, timeout time.Duration, ok func(incident.Incident) bool) (incident.Incident, error) {
	var got incident.Incident
	err := WaitFor(ctx, timeout, func() (bool, error) {
		var out struct {
			Incidents []incident.Incident `json:"incidents"`
		}
		if err := srv.CLIJSON(ctx, &out, "incidents"); err != nil {
			return false, err
		}
		i := slices.IndexFunc(out.Incidents, ok)
		if i < 0 {
			return false, nil
		}
		got = out.Incidents[i]
		return true, nil
	})
	return got, err
}
