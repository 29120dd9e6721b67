package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"lachan/server/api"
	"lachan/server/pki"
	"lachan/server/report"
)

// errReportChanged makes `lachan report verify` exit 1 after saying what
// does not match.
var errReportChanged = errors.New("report does not verify")

func reportCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "report",
		Short: "Auditors' reports: a system's or a unit's over a period, an incident's TT 20/2017 forms; signed",
	}
	c.AddCommand(reportKindCmd(report.KindSystem, "system ID --from DATE --to DATE", "A system's security report over a period"),
		reportKindCmd(report.KindUnit, "unit ID --from DATE --to DATE", "A unit's report: every system it owns (its subtree included)"),
		reportKindCmd(report.KindIncident, "incident ID --form initial|final", "An incident's initial or final report (TT 20/2017)"),
		reportVerifyCmd(), reportKeyCmd())
	return c
}

func reportKindCmd(kind, use, short string) *cobra.Command {
	c := &cobra.Command{
		Use:   use + " [--lang vi|en] [--format pdf|html] -o FILE",
		Short: short + "; -o FILE also writes FILE.jws, its signature",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd, kind, args[0])
		},
	}
	if kind != report.KindIncident {
		c.Flags().String("from", "", "first day of the period (2026-11-01), UTC")
		c.Flags().String("to", "", "the day after the period (2026-12-01), UTC")
		_ = c.MarkFlagRequired("from")
		_ = c.MarkFlagRequired("to")
	} else {
		c.Flags().String("form", report.FormInitial, "initial (báo cáo ban đầu) or final (báo cáo kết thúc)")
	}
	c.Flags().String("lang", report.LangVI, "vi or en")
	c.Flags().String("format", report.FormatPDF, "pdf or html")
	c.Flags().StringP("output", "o", "", "the file to write (and FILE.jws beside it)")
	_ = c.MarkFlagRequired("output")
	return c
}

func runReport(cmd *cobra.Command, kind, id string) error {
	q := url.Values{}
	for _, f := range []string{"from", "to", "form", "lang", "format"} {
		if fl := cmd.Flags().Lookup(f); fl != nil && fl.Value.String() != "" {
			q.Set(f, fl.Value.String())
		}
	}
	// Dates are checked here too, so that a typo is named before a request.
	for _, f := range []string{"from", "to"} {
		if v := q.Get(f); v != "" {
			if _, err := report.ParseDay("--"+f, v); err != nil {
				return err
			}
		}
	}
	out, _ := cmd.Flags().GetString("output")
	cl, err := newClient(cmd)
	if err != nil {
		return err
	}
	body, hdr, err := cl.Stream(cmd.Context(), api.PathReports+"/"+kind+"/"+url.PathEscape(id), q)
	if err != nil {
		return err
	}
	defer body.Close()
	doc, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	sig := hdr.Get(api.HeaderReportSignature)
	if sig == "" {
		return errors.New("report: the server sent no signature")
	}
	if err := os.WriteFile(out+report.SigSuffix, []byte(sig+"\n"), 0o644); err != nil {
		return fmt.Errorf("report signature: %w", err)
	}
	if err := os.WriteFile(out, doc, 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s (%d bytes) · %s%s\n", out, len(doc), out, report.SigSuffix)
	return nil
}

func reportVerifyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check FILE against FILE.jws; exit 1 saying why when a byte of it changed",
		Long: "Checks the detached signature FILE.jws (or --sig) over FILE with the server's report key:\n" +
			"--key, else <data_dir>/pki/report.key when readable, else the key the server serves\n" +
			"(GET /api/v1/reports/key, which needs the reports.read permission).",
		Args: cobra.ExactArgs(1),
		RunE: runReportVerify,
	}
	c.Flags().String("sig", "", "the signature file (default FILE.jws)")
	c.Flags().String("key", "", "the report public key (ed25519:BASE64, as `lachan report key` prints)")
	return c
}

func runReportVerify(cmd *cobra.Command, args []string) error {
	file := args[0]
	sigFile, _ := cmd.Flags().GetString("sig")
	if sigFile == "" {
		sigFile = file + report.SigSuffix
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	sig, err := os.ReadFile(sigFile)
	if err != nil {
		return fmt.Errorf("report signature: %w", err)
	}
	pub, from, err := reportKey(cmd)
	if err != nil {
		return err
	}
	if err := report.Verify(doc, sig, pub); err != nil {
		fmt.Fprintf(cmd.OutOrStdout(), "CHANGED: %s — %v\n", file, err)
		return fmt.Errorf("%w: %s: %w", errReportChanged, file, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "intact: %s, signed by key %s (from %s)\n", file, report.KeyID(pub), from)
	return nil
}

func reportKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "key",
		Short: "Print the server's report public key, to verify reports elsewhere with --key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var k api.ReportKey
			if err := cl.Get(cmd.Context(), api.PathReportKey, nil, &k); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\nkid %s\n", k.PublicKey, k.KeyID)
			return nil
		},
	}
}

func reportKey(cmd *cobra.Command) (ed25519.PublicKey, string, error) {
	return verifyKey(cmd, "report", pki.ReportPublicKey, api.PathReportKey)
}
