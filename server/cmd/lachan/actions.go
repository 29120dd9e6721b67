package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lachan/internal/action"
	"lachan/internal/wire"
	actions "lachan/server/action"
)

func actionsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "actions",
		Short: "Hành động ứng cứu trên máy / response actions on PCs: run, list, approve, cancel, show",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List actions (newest first), by incident, host or status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			q := url.Values{}
			for _, f := range []string{"incident", "host", "status"} {
				if v, _ := cmd.Flags().GetString(f); v != "" {
					q.Set(f, v)
				}
			}
			var out []actions.Action
			if err := cl.Get(cmd.Context(), wire.PathActions, q, &out); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, 0, len(out))
			for _, a := range out {
				rows = append(rows, []string{a.ID, a.Host, a.Kind, argText(a.Args), a.Status,
					fmt.Sprintf("%d/%d", len(a.Approvals), a.Needed), a.By, a.Incident, ago(a.Requested)})
			}
			return table(cmd.OutOrStdout(), "ID\tHOST\tKIND\tARGS\tSTATUS\tAPPROVED\tBY\tINCIDENT\tREQUESTED", rows)
		},
	}
	list.Flags().String("incident", "", "only actions of this incident")
	list.Flags().String("host", "", "only actions on this host (name or agent ID)")
	list.Flags().String("status", "", "only actions in this status (pending, approved, delivered, done, failed, refused, cancelled, expired)")
	addJSONFlag(list)
	c.AddCommand(runActionCmd(), list, changeActionCmd("approve", "Approve an action (someone other than who asked)"),
		changeActionCmd("cancel", "Cancel an action not yet delivered"), showActionCmd())
	return c
}

func argText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

// parseActionArgs reads KEY=VALUE arguments; a kind with one required
// argument also takes its value bare (quarantine-file /tmp/x).
func parseActionArgs(kind string, in []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range in {
		k, v, ok := strings.Cut(a, "=")
		if !ok || strings.ContainsAny(k, " /\\") {
			k, v = defaultArg(kind), a
			if k == "" {
				return nil, fmt.Errorf("argument %q: want KEY=VALUE", a)
			}
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("argument %q given twice", k)
		}
		out[k] = v
	}
	if err := action.CheckArgs(kind, out); err != nil {
		return nil, err
	}
	return out, nil
}

func defaultArg(kind string) string {
	return map[string]string{action.KindQuarantineFile: "path", action.KindCollectFile: "path", action.KindRestoreFile: "quarantine",
		action.KindBlockAddress: "address", action.KindUnblockAddress: "address", action.KindDisableAccount: "user",
		action.KindOsquery: "sql", action.KindKillProcess: "pid"}[kind]
}

func runActionCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "run --host H ACTION [ARGS]",
		Short: "Request an action on one PC; it runs once approved (unless --approvals 0)",
		Long: "Kinds: " + strings.Join(action.Kinds(), ", ") + ".\n" +
			"Arguments are KEY=VALUE, or the one value a kind needs: kill-process pid=4242 start=2026-01-02T03:04:05Z\n" +
			"(or sha256=HEX), quarantine-file /path, restore-file QUARANTINE_ID, collect-file /path, block-address IP,\n" +
			"disable-account USER, osquery 'SELECT …'. Isolating a PC of a cấp độ ≥ 3 system needs two approvers.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, _ := cmd.Flags().GetString("host")
			if host == "" {
				return fmt.Errorf("--host is required")
			}
			kv, err := parseActionArgs(args[0], args[1:])
			if err != nil {
				return err
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			inc, _ := cmd.Flags().GetString("incident")
			n, _ := cmd.Flags().GetInt("approvals")
			ttl, _ := cmd.Flags().GetDuration("ttl")
			var a actions.Action
			req := wire.ActionRequest{Host: host, Kind: args[0], Args: kv, Incident: inc, Approvals: n, TTL: ttl}
			if err := cl.Post(cmd.Context(), wire.PathActions, req, &a); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), a)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", a.ID)
			fmt.Fprintf(cmd.ErrOrStderr(), "action %s (%s on %s): %s, %d approval(s) needed, expires %s\n", a.ID, a.Kind, a.Host, a.Status, a.Needed, a.Expires.Local().Format(time.RFC3339))
			if a.Why != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), a.Why)
			}
			return nil
		},
	}
	c.Flags().String("host", "", "the PC: host name or agent ID")
	c.Flags().String("incident", "", "the incident this action answers")
	c.Flags().Int("approvals", 1, "how many other people must approve (0, 1 or 2)")
	c.Flags().Duration("ttl", 0, "how long it may wait for approval and delivery (default: the server's actions.ttl)")
	addJSONFlag(c)
	return c
}

func changeActionCmd(what, short string) *cobra.Command {
	c := &cobra.Command{
		Use:   what + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var a actions.Action
			if err := cl.Post(cmd.Context(), wire.PathActions+"/"+url.PathEscape(args[0])+"/"+what, struct{}{}, &a); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), a)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "action %s: %s (%d/%d approvals)\n", a.ID, a.Status, len(a.Approvals), a.Needed)
			return nil
		},
	}
	addJSONFlag(c)
	return c
}

func showActionCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "show ID",
		Short: "Show one action with its approvals and result; --save FILE writes a collected file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var a actions.Action
			if err := cl.Get(cmd.Context(), wire.PathActions+"/"+url.PathEscape(args[0]), nil, &a); err != nil {
				return err
			}
			if save, _ := cmd.Flags().GetString("save"); save != "" {
				if err := saveCollected(cmd, a.ID, save); err != nil {
					return err
				}
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), a)
			}
			printAction(cmd.OutOrStdout(), a)
			return nil
		},
	}
	c.Flags().String("save", "", "write the file a collect-file action brought back here")
	addJSONFlag(c)
	return c
}

func saveCollected(cmd *cobra.Command, id, path string) error {
	cl, err := newClient(cmd)
	if err != nil {
		return err
	}
	var f struct {
		Data []byte `json:"data"`
	}
	if err := cl.Get(cmd.Context(), wire.PathActions+"/"+url.PathEscape(id)+"/file", nil, &f); err != nil {
		return err
	}
	if err := os.WriteFile(path, f.Data, 0o600); err != nil {
		return err
	}
	sum := sha256.Sum256(f.Data)
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d bytes, sha256 %s\n", path, len(f.Data), hex.EncodeToString(sum[:]))
	return nil
}

func printAction(w io.Writer, a actions.Action) {
	rows := [][]string{{"id", a.ID}, {"host", a.Host + " (" + a.AgentID + ", " + a.Unit + ")"}, {"kind", a.Kind}, {"args", argText(a.Args)},
		{"status", a.Status}, {"requested", a.By + " " + a.Requested.Local().Format(time.RFC3339)}, {"expires", a.Expires.Local().Format(time.RFC3339)},
		{"approvals", fmt.Sprintf("%d/%d %s", len(a.Approvals), a.Needed, a.Why)}}
	for _, p := range a.Approvals {
		rows = append(rows, []string{"approved", p.By + " " + p.At.Local().Format(time.RFC3339)})
	}
	if a.Incident != "" {
		rows = append(rows, []string{"incident", a.Incident})
	}
	if a.CancelledBy != "" {
		rows = append(rows, []string{"cancelled", a.CancelledBy})
	}
	if r := a.Result; r != nil {
		rows = append(rows, []string{"result", r.Status + " " + r.Reason}, []string{"finished", r.Finished.Local().Format(time.RFC3339)})
		keys := make([]string, 0, len(r.Evidence))
		for k := range r.Evidence {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			rows = append(rows, []string{"evidence." + k, r.Evidence[k]})
		}
		if r.Output != "" {
			rows = append(rows, []string{"output", r.Output})
		}
	}
	_ = table(w, "FIELD\tVALUE", rows)
}
