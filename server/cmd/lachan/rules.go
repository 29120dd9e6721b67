package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/spf13/cobra"

	"lachan/detections"
	"lachan/server/correlate"
	"lachan/server/detect"
)

func rulesCmd() *cobra.Command {
	c := &cobra.Command{Use: "rules", Short: "Work with detection rules"}
	check := &cobra.Command{
		Use:   "check DIR...",
		Short: "Load every rule under the directories and explain each one that does not load",
		Long: "Load every Sigma rule under the directories with the log-source mapping and print how many\n" +
			"loaded and, for each rule that did not, file:line:col and why. Exits non-zero when any rule\n" +
			"was skipped.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, errs, err := loadRuleDirs(cmd, args)
			if err != nil {
				return err
			}
			set, cerrs, err := loadCorrelations(args, e)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d correlation rules loaded\n", set.Len())
			return reportCheck(cmd.OutOrStdout(), e, append(errs, cerrs...))
		},
	}
	addLogSourcesFlag(check)
	addPlaceholdersFlag(check)
	addAttackFlag(check)
	c.AddCommand(check)
	c.AddCommand(contentCmds()...)
	return c
}

func addLogSourcesFlag(c *cobra.Command) {
	c.Flags().String("logsources", "", "log-source mapping file (default: the shipped detections/logsources.yml)")
}

func addPlaceholdersFlag(c *cobra.Command) {
	c.Flags().String("placeholders", "", "YAML file of expand placeholder values (name: [value, ...]); an unconfigured placeholder matches nothing")
}

// placeholders reads the --placeholders file; without one, no placeholder
// has values.
func placeholders(cmd *cobra.Command) (detect.Placeholders, error) {
	path, _ := cmd.Flags().GetString("placeholders")
	if path == "" {
		return detect.Placeholders{}, nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("placeholders: %w", err)
	}
	return detect.ParsePlaceholders(path, src)
}

// loadRuleDirs loads the rules of the directories, or the shipped rules
// when there are none, with the chosen log-source mapping.
func loadRuleDirs(cmd *cobra.Command, dirs []string) (*detect.Engine, []error, error) {
	if err := attackFromFlag(cmd); err != nil {
		return nil, nil, err
	}
	sources, err := logSources(cmd)
	if err != nil {
		return nil, nil, err
	}
	rd, err := ruleDirs(dirs)
	if err != nil {
		return nil, nil, err
	}
	cfg := detect.DefaultConfig()
	if cfg.Placeholders, err = placeholders(cmd); err != nil {
		return nil, nil, err
	}
	e, errs := detect.LoadDirs(rd, sources, cfg)
	return e, errs, nil
}

// loadCorrelations loads the correlation rules of the same directories
// against the detection rules of e.
func loadCorrelations(dirs []string, e *detect.Engine) (*correlate.Set, []error, error) {
	rd, err := ruleDirs(dirs)
	if err != nil {
		return nil, nil, err
	}
	set, errs := correlate.LoadDirs(rd, e.Rules())
	return set, errs, nil
}

// ruleDirs turns rule directories (or files) into detect.RuleDirs, the
// shipped detections when there are none.
func ruleDirs(dirs []string) ([]detect.RuleDir, error) {
	var rd []detect.RuleDir
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("rules directory: %w", err)
		}
		if !st.IsDir() {
			rd = append(rd, detect.RuleDir{FS: os.DirFS(filepath.Dir(d)), Root: filepath.Base(d), Name: filepath.Dir(d)})
			continue
		}
		rd = append(rd, detect.RuleDir{FS: os.DirFS(d), Root: ".", Name: d})
	}
	if len(rd) == 0 {
		rd = []detect.RuleDir{{FS: detections.FS, Root: ".", Name: "detections"}}
	}
	return rd, nil
}

func logSources(cmd *cobra.Command) (detect.LogSources, error) {
	path, _ := cmd.Flags().GetString("logsources")
	if path == "" {
		return detect.LoadLogSources(detections.FS, detections.LogSourcesFile)
	}
	return detect.LoadLogSources(os.DirFS(filepath.Dir(path)), filepath.Base(path))
}

var quotedRE = regexp.MustCompile(`"[^"]*"`)

// reportCheck prints every error, then the counts and the most common
// reasons (quoted names blanked, so that alike errors group).
func reportCheck(w io.Writer, e *detect.Engine, errs []error) error {
	for _, warn := range e.Warnings() {
		fmt.Fprintf(w, "warning: %v\n", warn)
	}
	if n := len(e.Warnings()); n > 0 {
		fmt.Fprintf(w, "%d warnings (the rules load)\n", n)
	}
	reportAttack(w, e)
	files := map[string]bool{}
	reasons := map[string]int{}
	for _, err := range errs {
		fmt.Fprintln(w, err)
		var pe *detect.Error
		if errors.As(err, &pe) {
			files[pe.File] = true
			reasons[quotedRE.ReplaceAllString(pe.Msg, "_")]++
			continue
		}
		files[err.Error()] = true
		reasons["other"]++
	}
	loaded := len(e.Rules())
	total := loaded + len(files)
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(loaded) / float64(total)
	}
	fmt.Fprintf(w, "%d of %d rule files loaded (%.1f%%), %d skipped\n", loaded, total, pct, len(files))
	if len(files) == 0 {
		return nil
	}
	type rc struct {
		msg string
		n   int
	}
	var top []rc
	for m, n := range reasons {
		top = append(top, rc{m, n})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n || top[i].n == top[j].n && top[i].msg < top[j].msg })
	fmt.Fprintln(w, "top reasons:")
	for i := 0; i < len(top) && i < 10; i++ {
		fmt.Fprintf(w, "%6d  %s\n", top[i].n, top[i].msg)
	}
	return fmt.Errorf("%d rule files skipped", len(files))
}
