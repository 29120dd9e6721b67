package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lachan/test/harness"
)

// demoSystem is the information system the demo registers for its ward:
// cấp độ 3, the demo PC on it (every agent of the ward), the machine's own
// networks as its ranges, so that the auditors' report has content.
const demoSystem = "mot-cua-demo"

// registerSystem applies the ward's system through the CLI, as an admin
// would, before the incident is raised, so that the incident is routed to
// it.
func registerSystem(ctx context.Context, srv *harness.Server, dir string) error {
	yml := fmt.Sprintf(`systems:
  - id: %s
    name: {vi: "Hệ thống một cửa điện tử phường (demo)", en: "Ward one-stop service system (demo)"}
    owner: %s
    level: 3
    decision: "Quyết định phê duyệt cấp độ (ví dụ) / level approval decision (example)"
    assets:
      agents:
        units: [%s]
      networks: [%s]
    layers:
      on_site: {unit: %s, contact: "Cán bộ CNTT phường"}
      monitoring: {soc: "Trung tâm Giám sát an toàn thông tin (demo)"}
      assessor: {organisation: "Đơn vị kiểm định độc lập (ví dụ)", last_assessment: %s}
`, demoSystem, harness.Unit, harness.Unit, strings.Join(harness.LocalNetworks(), ", "), harness.Unit,
		time.Now().UTC().AddDate(0, -2, 0).Format(time.DateOnly))
	file := filepath.Join(dir, "systems.yml")
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		return err
	}
	if out, err := srv.CLI(ctx, "systems", "apply", file); err != nil {
		return fmt.Errorf("systems apply: %w\n%s", err, out)
	}
	return nil
}

// reportCommands are the commands that make the auditors' reports of the
// demo: the system's month so far (made and verified by the demo itself),
// the incident's initial report, and the system's in English as HTML.
func reportCommands(dir, incidentID string) [][]string {
	now := time.Now().UTC()
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	to := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1).Format(time.DateOnly)
	sys := filepath.Join(dir, "bao-cao-he-thong.pdf")
	return [][]string{
		{"report", "system", demoSystem, "--from", from, "--to", to, "-o", sys},
		{"report", "verify", sys},
		{"report", "incident", incidentID, "--form", "initial", "-o", filepath.Join(dir, "bao-cao-su-co.pdf")},
		{"report", "system", demoSystem, "--from", from, "--to", to, "--lang", "en", "--format", "html", "-o", filepath.Join(dir, "system-report.html")},
	}
}

// makeReport runs the first two of reportCommands: the system's signed
// report, then its verification, so that the demo shows the file and
// fails if either does not work.
func makeReport(ctx context.Context, srv *harness.Server, cmds [][]string) error {
	for _, args := range cmds[:2] {
		out, err := srv.CLI(ctx, args...)
		if err != nil {
			return fmt.Errorf("lachan %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		fmt.Print(indent(string(out)))
	}
	return nil
}
