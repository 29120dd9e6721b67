package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lachan/server/api"
	"lachan/server/audit"
	"lachan/server/forward"
	"lachan/server/pki"
)

// errTrailBroken makes `lachan audit verify` exit 1 after naming the
// first broken record.
var errTrailBroken = errors.New("audit trail broken")

func auditCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "The tamper-evident audit trail: who did what, from where (admin, auditor)",
	}
	c.AddCommand(auditListCmd(), auditExportCmd(), auditVerifyCmd())
	return c
}

func auditListCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List audit records, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			q := url.Values{}
			for _, f := range []string{"actor", "action", "since", "until", "after"} {
				if v, _ := cmd.Flags().GetString(f); v != "" {
					q.Set(f, v)
				}
			}
			limit, _ := cmd.Flags().GetInt("limit")
			q.Set("limit", fmt.Sprint(limit))
			var page api.AuditPage
			if err := cl.Get(cmd.Context(), api.PathAudit, q, &page); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), page)
			}
			rows := make([][]string, 0, len(page.Records))
			for _, r := range page.Records {
				rows = append(rows, []string{fmt.Sprint(r.Seq), r.Time.Local().Format(time.DateTime), r.Actor, r.Role, r.Action, r.Object, r.Outcome, r.Source, string(r.Detail)})
			}
			if err := table(cmd.OutOrStdout(), "SEQ\tTIME\tACTOR\tROLE\tACTION\tOBJECT\tOUTCOME\tSOURCE\tDETAIL", rows); err != nil {
				return err
			}
			if page.Next != 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "more: --after %d\n", page.Next)
			}
			return nil
		},
	}
	c.Flags().String("actor", "", "only this actor's records")
	c.Flags().String("action", "", "only this action (unit.put, live.query, system.update, audit.checkpoint, …)")
	c.Flags().String("since", "", "only from this time (RFC 3339, or a duration ago such as 24h)")
	c.Flags().String("until", "", "only before this time")
	c.Flags().String("after", "", "continue after this sequence number")
	c.Flags().Int("limit", audit.DefaultLimit, fmt.Sprintf("at most this many (up to %d)", audit.MaxLimit))
	addJSONFlag(c)
	return c
}

func auditExportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Write the whole trail as JSON lines (lachan audit export > FILE)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, last, err := fetchExport(cmd)
			if err != nil {
				return err
			}
			defer body.Close()
			w := bufio.NewWriter(cmd.OutOrStdout())
			var tail lastLine
			_, err = io.Copy(io.MultiWriter(w, &tail), body)
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return fmt.Errorf("audit export: %w", err)
			}
			// Records are copied as they come, damaged or not; only the end
			// is checked, so that a stream cut short is not taken for the
			// whole trail.
			end := "0 " + audit.Genesis
			if line := bytes.TrimSpace(tail.last()); len(line) > 0 {
				var r audit.Record
				_ = json.Unmarshal(line, &r)
				end = fmt.Sprintf("%d %s", r.Seq, r.Hash)
			}
			if end != last {
				return fmt.Errorf("export ended at %q, before the server's head %q: try again", end, last)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported up to record %s\n", last)
			return nil
		},
	}
}

// fetchExport opens the server's export and returns the head it ends at.
func fetchExport(cmd *cobra.Command) (io.ReadCloser, string, error) {
	cl, err := newClient(cmd)
	if err != nil {
		return nil, "", err
	}
	body, hdr, err := cl.Stream(cmd.Context(), api.PathAuditExport, nil)
	if err != nil {
		return nil, "", err
	}
	return body, hdr.Get(api.HeaderAuditHead), nil
}

// lastLine keeps the last non-empty line written to it.
type lastLine struct{ done, cur []byte }

func (l *lastLine) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.cur = append(l.cur, p...)
			break
		}
		l.cur = append(l.cur, p[:i]...)
		if len(bytes.TrimSpace(l.cur)) > 0 {
			l.done, l.cur = l.cur, l.done[:0]
		} else {
			l.cur = l.cur[:0]
		}
		p = p[i+1:]
	}
	return n, nil
}

func (l *lastLine) last() []byte {
	if len(bytes.TrimSpace(l.cur)) > 0 {
		return l.cur
	}
	return l.done
}

func auditVerifyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "verify",
		Short: "Check the trail's chain and checkpoint signatures; exit 1 naming the first broken record",
		Long: "Reads an export (--file, or the server's) and checks that no record was changed, removed or\n" +
			"reordered and that every checkpoint is signed with the server's audit key: --key, else the\n" +
			"key in <data_dir>/pki/audit.key when readable, else the key the server serves.",
		Args: cobra.NoArgs,
		RunE: runAuditVerify,
	}
	c.Flags().String("file", "", "an export (lachan audit export > FILE); - for standard input")
	c.Flags().String("key", "", "the audit public key (ed25519:BASE64, as GET /api/v1/audit/key answers)")
	addJSONFlag(c)
	return c
}

func runAuditVerify(cmd *cobra.Command, _ []string) error {
	pub, from, err := auditKey(cmd)
	if err != nil {
		return err
	}
	var in io.Reader
	head := ""
	switch file, _ := cmd.Flags().GetString("file"); file {
	case "":
		body, last, err := fetchExport(cmd)
		if err != nil {
			return err
		}
		defer body.Close()
		in, head = body, last
	case "-":
		in = cmd.InOrStdin()
	default:
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		defer f.Close()
		in = f
	}
	sum, err := audit.Verify(in, pub)
	var b *audit.Broken
	if errors.As(err, &b) {
		fmt.Fprintf(cmd.OutOrStdout(), "BROKEN at record %d (line %d): %s — %s\n", b.Seq, b.Line, b.Reason, b.Detail)
		return fmt.Errorf("%w: record %d %s", errTrailBroken, b.Seq, b.Reason)
	}
	if err != nil {
		return err
	}
	if head != "" && fmt.Sprintf("%d %s", sum.Last, sum.LastHash) != head {
		return fmt.Errorf("export ended at record %d, before the server's head %q: try again", sum.Last, head)
	}
	if wantJSON(cmd) {
		return printJSON(cmd.OutOrStdout(), sum)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "intact: %d records, %d checkpoints signed with the key from %s\n", sum.Records, sum.Checkpoints, from)
	if sum.Checkpoints > 0 {
		fmt.Fprintf(w, "last checkpoint: record %d at %s; %d record(s) after it no signature covers yet\n",
			sum.LastCheckpoint, sum.CheckpointTime.Local().Format(time.DateTime), sum.Unsigned)
	} else if sum.Records > 0 {
		fmt.Fprintln(w, "no checkpoint: no signature covers these records")
	}
	return nil
}

// auditKey finds the key checkpoints verify with, and says where from.
func auditKey(cmd *cobra.Command) (ed25519.PublicKey, string, error) {
	return verifyKey(cmd, "audit", pki.AuditPublicKey, api.PathAuditKey)
}

// verifyKey finds the public key a signature of the server's is checked
// with, and says where from: --key, else the server's key file when the
// command runs where the PKI directory is readable, else the server's API
// at path (answering {"public_key": ...}).
func verifyKey(cmd *cobra.Command, what string, local func(dir string) (ed25519.PublicKey, error), path string) (ed25519.PublicKey, string, error) {
	if k, _ := cmd.Flags().GetString("key"); k != "" {
		pub, err := forward.ParsePublicKey(k)
		return pub, "--key", err
	}
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, "", err
	}
	if pub, err := local(cfg.pkiDir()); err == nil {
		return pub, cfg.pkiDir(), nil
	}
	cl, err := newClient(cmd)
	if err != nil {
		return nil, "", fmt.Errorf("no %s key: give --key, run where %s is readable, or reach the server: %w", what, cfg.pkiDir(), err)
	}
	var k struct {
		PublicKey string `json:"public_key"`
	}
	if err := cl.Get(cmd.Context(), path, nil, &k); err != nil {
		return nil, "", fmt.Errorf("%s key: %w", what, err)
	}
	pub, err := forward.ParsePublicKey(k.PublicKey)
	return pub, "the server (" + strings.TrimPrefix(cfg.client().Server, "https://") + ")", err
}
