package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"lachan/server/detect"
)

// addAttackFlag adds --attack-stix, MITRE's ATT&CK STIX bundle to name
// techniques and tactics from (default $LACHAN_ATTACK_STIX, else the
// built-in tactics).
func addAttackFlag(c *cobra.Command) {
	c.Flags().String("attack-stix", os.Getenv("LACHAN_ATTACK_STIX"),
		"MITRE ATT&CK STIX bundle (enterprise-attack.json) for technique and tactic names (env LACHAN_ATTACK_STIX; default: the built-in tactics)")
}

func attackFromFlag(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup("attack-stix")
	if f == nil {
		return nil
	}
	return loadAttack(f.Value.String())
}

// loadAttack reads the ATT&CK table from a STIX bundle and puts it in use
// for the rules loaded after; an empty path puts the built-in table in use.
func loadAttack(path string) error {
	if path == "" {
		detect.SetAttack(nil)
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("attack stix: %w", err)
	}
	defer f.Close()
	a, err := detect.ParseAttackSTIX(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	detect.SetAttack(a)
	return nil
}

// reportAttack prints, as warnings with file:line:col, every attack.* tag
// the table in use does not hold, then those tags with their counts.
func reportAttack(w io.Writer, e *detect.Engine) {
	a := detect.CurrentAttack()
	unmapped := map[string]int{}
	for _, r := range e.Rules() {
		for _, warn := range r.AttackWarnings() {
			fmt.Fprintf(w, "warning: %v\n", warn)
		}
		for _, t := range detect.UnmappedTags(r.Tags) {
			unmapped[t]++
		}
	}
	src := a.Source
	if a.Version != "" {
		src += " " + a.Version
	}
	fmt.Fprintf(w, "ATT&CK table: %s (%d tactics, %d techniques)\n", src, len(a.Tactics()), a.NumTechniques())
	if len(unmapped) == 0 {
		return
	}
	tags := make([]string, 0, len(unmapped))
	for t := range unmapped {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	fmt.Fprintln(w, "ATT&CK tags that name no tactic or live technique:")
	for _, t := range tags {
		fmt.Fprintf(w, "%6d  %s (%s)\n", unmapped[t], t, a.TagProblem(t))
	}
}
