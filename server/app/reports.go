package app

import (
	"context"
	"encoding/json"

	"lachan/internal/bundle"
	"lachan/server/detect"
	"lachan/server/fleet"
	"lachan/server/incident"
	"lachan/server/pki"
	"lachan/server/report"
	"lachan/server/store"
	"lachan/server/system"
	"lachan/server/unit"
)

// reports wires the auditors' reports over the same parts the API serves,
// signed with the server's report key (<pki>/report.key), and adds the
// monthly run when report.schedule.dir is set.
func (s *Server) reports(cfg Config, st store.Store, ca *pki.Authority, systems *system.Registry, coverage *system.Coverage,
	units *unit.Registry, fl *fleet.Fleet, inc *incident.Manager) *report.Builder {
	rb := report.NewBuilder(report.Deps{
		Store: st, Systems: systems, Units: units, Agents: fl, Incidents: inc, Policies: coverage.Policies(),
		Bundle: s.reportBundle,
	}, cfg.Report)
	if sc := cfg.Report.Schedule; sc.Dir != "" {
		key := ca.ReportSigner()
		sch := report.NewScheduler(rb, sc, func(doc []byte) []byte { return report.Sign(doc, key) }, nil, s.log)
		s.add("monthly reports", func(ctx context.Context) error { return sch.Run(ctx) })
	}
	return rb
}

// reportBundle describes the content in use for the auditors' reports:
// the agents' bundle and the Sigma rules loaded.
func reportBundle(signed bundle.Signed, version string, sigma []*detect.Rule) report.Bundle {
	files := 0
	var b bundle.Bundle
	if json.Unmarshal(signed.Payload, &b) == nil {
		files = len(b.Files)
	}
	return report.Bundle{Version: version, Rules: files, Sigma: len(sigma)}
}
