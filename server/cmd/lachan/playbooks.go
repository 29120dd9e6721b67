package main

import (
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"lachan/internal/wire"
	"lachan/playbooks"
	"lachan/server/api"
	"lachan/server/playbook"
)

func playbooksCmd() *cobra.Command {
	c := &cobra.Command{Use: "playbooks", Short: "Work with response playbooks"}
	check := &cobra.Command{
		Use:   "check [DIR]...",
		Short: "Load the playbooks of each directory and explain, with file:line:col, every one that does not load",
		Long: "Load the playbooks (and templates.yml) of each directory, the shipped ones when none is named, and\n" +
			"print each error with file:line:col. Exits non-zero when any playbook did not load.",
		RunE: func(cmd *cobra.Command, args []string) error {
			known, err := knownRules(cmd)
			if err != nil {
				return err
			}
			bad := 0
			for _, d := range playbookDirs(args) {
				set, errs := playbook.Load(d.fs, d.root, d.name)
				bad += reportPlaybookErrors(cmd.OutOrStdout(), d.name, set, errs)
				warnUnknownRules(cmd.OutOrStdout(), set, known)
			}
			if bad > 0 {
				return fmt.Errorf("%d errors in playbooks", bad)
			}
			return nil
		},
	}
	test := &cobra.Command{
		Use:   "test [DIR]...",
		Short: "Run the test cases of every playbook (<name>.tests.yml beside <name>.yml)",
		Long: "Load the playbooks of each directory (the shipped ones when none is named), play each test case's\n" +
			"incident through the run machine the server uses, with the outcomes the case names, and compare\n" +
			"the steps taken with the steps it expects. Prints every difference, then \"N passed, N failed\";\n" +
			"exits non-zero on any failure or any playbook that does not load.",
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			var total playbook.Results
			bad := 0
			for _, d := range playbookDirs(args) {
				set, errs := playbook.Load(d.fs, d.root, d.name)
				bad += reportPlaybookErrors(io.Discard, d.name, set, errs)
				for _, err := range errs {
					fmt.Fprintln(w, err)
				}
				res := playbook.RunTests(set, d.fs, d.root, d.name, playbook.DefaultConfig().Policy())
				for _, f := range res.Failures {
					fmt.Fprintln(w, f)
				}
				total.Passed += res.Passed
				total.Failed += res.Failed
			}
			fmt.Fprintf(w, "%d passed, %d failed\n", total.Passed, total.Failed)
			if total.Failed > 0 || bad > 0 {
				return fmt.Errorf("%d test cases failed, %d load errors", total.Failed, bad)
			}
			return nil
		},
	}
	runs := &cobra.Command{
		Use:   "runs INCIDENT",
		Short: "Show the playbook runs of an incident: each step, its outcome, the action and who approved",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var page api.PlaybookRunsPage
			if err := cl.Get(cmd.Context(), wire.PathIncidents+"/"+url.PathEscape(args[0])+"/playbooks", nil, &page); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), page)
			}
			w := cmd.OutOrStdout()
			if len(page.Runs) == 0 {
				fmt.Fprintln(w, "không có playbook nào chạy cho sự cố này / no playbook ran for this incident")
			}
			for _, r := range page.Runs {
				fmt.Fprintf(w, "%s  %s  (%s)\n", r.Playbook, r.Status, ago(r.Started))
				for _, s := range r.Log {
					line := fmt.Sprintf("  %s  %s", s.At.Local().Format("2006-01-02 15:04:05"), s.Line())
					if len(s.By) > 0 {
						line += "  by " + strings.Join(s.By, ", ")
					}
					if s.Detail != "" {
						line += "  — " + s.Detail
					}
					fmt.Fprintln(w, visible(line))
				}
				if p := r.Pending; p != nil && p.ActionID != "" {
					fmt.Fprintf(w, "  đang chờ / waiting: action %s until %s\n", p.ActionID, p.Deadline.Local().Format("2006-01-02 15:04"))
				}
			}
			return nil
		},
	}
	addJSONFlag(runs)
	check.Flags().StringSlice("rules", nil, "detection rule directories the triggers are checked against (default: the shipped detections)")
	addLogSourcesFlag(check)
	c.AddCommand(check, test, runs)
	return c
}

// knownRules are the IDs of the detection and correlation rules of the
// --rules directories, or of the shipped ones.
func knownRules(cmd *cobra.Command) (map[string]bool, error) {
	dirs, _ := cmd.Flags().GetStringSlice("rules")
	e, _, err := loadRuleDirs(cmd, dirs)
	if err != nil {
		return nil, err
	}
	set, _, err := loadCorrelations(dirs, e)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, r := range e.Rules() {
		known[r.ID] = true
	}
	for _, r := range set.Rules() {
		known[r.ID] = true
	}
	return known, nil
}

// warnUnknownRules says which triggers name a rule no loaded detection or
// correlation rule has: such a playbook never runs.
func warnUnknownRules(w io.Writer, set *playbook.Set, known map[string]bool) {
	for _, pb := range set.Playbooks {
		for _, id := range append(append([]string{}, pb.Trigger.Rules...), pb.Trigger.OnlyRules...) {
			if !known[id] {
				fmt.Fprintf(w, "warning: %s:%d:%d: trigger names rule %s, which no loaded detection or correlation rule has\n",
					pb.File, pb.Trigger.Line, pb.Trigger.Col, id)
			}
		}
	}
}

type playbookDir struct {
	fs         fs.FS
	root, name string
}

// playbookDirs turns the arguments into directories, the shipped playbooks
// when there are none.
func playbookDirs(args []string) []playbookDir {
	if len(args) == 0 {
		return []playbookDir{{fs: playbooks.FS, root: ".", name: "playbooks"}}
	}
	var out []playbookDir
	for _, a := range args {
		out = append(out, playbookDir{fs: os.DirFS(a), root: ".", name: filepath.Clean(a)})
	}
	return out
}

// reportPlaybookErrors prints the errors of one directory and a count,
// and returns how many errors there were.
func reportPlaybookErrors(w io.Writer, dir string, set *playbook.Set, errs []error) int {
	for _, err := range errs {
		fmt.Fprintln(w, err)
	}
	fmt.Fprintf(w, "%s: %d playbooks loaded, %d notification templates, %d errors\n", dir, len(set.Playbooks), len(set.Messages), len(errs))
	return len(errs)
}
