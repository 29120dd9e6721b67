package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lachan/server/api"
	"lachan/server/client"
	"lachan/server/content"
	"lachan/server/detect"
)

// contentCmds are the content-pack commands under `lachan rules`.
func contentCmds() []*cobra.Command {
	return []*cobra.Command{keygenCmd(), packCmd(), updateCmd(), listPacksCmd(), rollbackCmd()}
}

func keygenCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "keygen --key FILE",
		Short: "Make a content-signing key and print its public key for content.trusted_keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, _ := cmd.Flags().GetString("key")
			pub, err := content.GenerateKey(path)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "private key written to %s (keep it off the servers)\n", path)
			fmt.Fprintf(w, "add to the server's configuration:\n  content:\n    trusted_keys:\n      - %s\n", content.PublicKeyText(pub))
			return nil
		},
	}
	c.Flags().String("key", "", "file to write the private key to (0600)")
	c.MarkFlagRequired("key")
	return c
}

func packCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "pack --name N --version V [--sigma DIR] [--yara DIR] [--osquery DIR] --licence [KIND=]FILE --key KEY -o FILE",
		Short: "Build a signed content pack from directories of rules",
		Long: "Collect the Sigma (*.yml), YARA (*.yar) and osquery (*.conf, *.json) files under the\n" +
			"directories, check them as `lachan rules update` will, and write one signed pack.\n" +
			"--licence FILE is the licence and attribution text of every part; KIND=FILE sets one\n" +
			"part's. --source [KIND=]TEXT says where the files came from (a repository and commit).\n" +
			"A rule that does not load refuses the pack, unless --leave-out drops it (for a published\n" +
			"rule set: each file left out is named with its reason here and in the manifest).",
		Args: cobra.NoArgs,
		RunE: runPack,
	}
	f := c.Flags()
	f.String("name", "", "pack name (lower-case letters, digits, '.', '_', '-')")
	f.String("version", "", "pack version (same characters)")
	f.String("sigma", "", "directory of Sigma rules")
	f.String("yara", "", "directory of YARA rules")
	f.String("osquery", "", "directory of osquery packs")
	f.StringArray("licence", nil, "licence and attribution text: FILE for every part, KIND=FILE for one")
	f.StringArray("source", nil, "where the rules came from: TEXT for every part, KIND=TEXT for one")
	f.String("key", "", "content-signing key (lachan rules keygen)")
	f.StringP("output", "o", "", "pack file to write")
	f.Bool("leave-out", false, "leave out each Sigma file that does not load, named in the manifest with its reason")
	addLogSourcesFlag(c)
	for _, n := range []string{"name", "version", "key", "output"} {
		c.MarkFlagRequired(n)
	}
	return c
}

func runPack(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	name, _ := f.GetString("name")
	version, _ := f.GetString("version")
	keyFile, _ := f.GetString("key")
	out, _ := f.GetString("output")
	licences, _ := f.GetStringArray("licence")
	origins, _ := f.GetStringArray("source")
	key, err := content.LoadPrivateKey(keyFile)
	if err != nil {
		return err
	}
	var sources []content.Source
	for _, kind := range content.Kinds {
		dir, _ := f.GetString(kind)
		if dir == "" {
			continue
		}
		licFile := perKind(licences, kind)
		if licFile == "" {
			return fmt.Errorf("--licence: no licence and attribution text for the %s part", kind)
		}
		lic, err := os.ReadFile(licFile)
		if err != nil {
			return fmt.Errorf("--licence: %w", err)
		}
		sources = append(sources, content.Source{Kind: kind, FS: os.DirFS(dir), Root: ".", Origin: perKind(origins, kind), Licence: string(lic)})
	}
	p, err := content.Build(name, version, time.Now(), sources)
	if err != nil {
		return err
	}
	if leave, _ := f.GetBool("leave-out"); leave {
		if p, err = leaveOut(cmd, p); err != nil {
			return err
		}
	}
	if err := checkPack(cmd, p); err != nil {
		return err
	}
	s, err := content.Sign(p, key)
	if err != nil {
		return err
	}
	w, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := s.Encode(w); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s signed by %s (%s)\n", out, name, version, content.KeyID(s.Key), partSummary(p.Manifest))
	return nil
}

// perKind picks KIND=VALUE for kind, else a VALUE without a kind.
func perKind(list []string, kind string) string {
	all := ""
	for _, v := range list {
		k, rest, ok := strings.Cut(v, "=")
		switch {
		case ok && k == kind:
			return rest
		case !ok || !isKind(k):
			all = v
		}
	}
	return all
}

func isKind(k string) bool {
	for _, x := range content.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// checkPack runs the strict checks over p, printing warnings and every
// error; any error refuses the pack.
func checkPack(cmd *cobra.Command, p content.Pack) error {
	sources, err := logSources(cmd)
	if err != nil {
		return err
	}
	r := content.Checker{LogSources: sources, YARA: yaracChecker(), Known: serverRules(cmd, "")}.Check(p)
	w := cmd.ErrOrStderr()
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	for _, e := range r.Errors {
		fmt.Fprintln(w, e)
	}
	fmt.Fprintln(w, loadCounts(r))
	if !r.OK() {
		return fmt.Errorf("content pack %s %s refused: %d errors (above); nothing changed", p.Manifest.Name, p.Manifest.Version, len(r.Errors))
	}
	return nil
}

// leaveOut drops the Sigma files that do not load and names them.
func leaveOut(cmd *cobra.Command, p content.Pack) (content.Pack, error) {
	sources, err := logSources(cmd)
	if err != nil {
		return p, err
	}
	p = content.Checker{LogSources: sources}.LeaveOut(p)
	for _, part := range p.Manifest.Parts {
		for _, why := range part.LeftOut {
			fmt.Fprintf(cmd.ErrOrStderr(), "left out: %s\n", why)
		}
		if n := len(part.LeftOut); n > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d files left out, %d kept\n", part.Kind, n, part.Files)
		}
	}
	return p, nil
}

// serverRules are the detection rules the server loads besides the packs
// (dir, else the built-in ones), which a pack's correlation rules may name.
func serverRules(cmd *cobra.Command, dir string) []*detect.Rule {
	var dirs []string
	if dir != "" {
		dirs = []string{dir}
	}
	e, _, err := loadRuleDirs(cmd, dirs)
	if err != nil {
		return nil
	}
	return e.Rules()
}

func loadCounts(r content.Report) string {
	return fmt.Sprintf("%d Sigma rules, %d correlation rules, %d YARA files, %d osquery queries load", r.Sigma, r.Correlations, r.YARA, r.Osquery)
}

func partSummary(m content.Manifest) string {
	var parts []string
	for _, p := range m.Parts {
		s := fmt.Sprintf("%s %d", p.Kind, p.Files)
		if n := len(p.LeftOut); n > 0 {
			s += fmt.Sprintf(" (%d left out)", n)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func updateCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "update FILE [--server URL]",
		Short: "Install a signed content pack, on this server machine or through a server's API",
		Long: "Verify the pack's signature against content.trusted_keys, check every rule in it, and\n" +
			"make it the active version of its name in <data_dir>/content, keeping the version\n" +
			"before for `lachan rules rollback`. A pack that fails any check is refused whole and\n" +
			"nothing changes. A server running from this data directory is told to load it (SIGHUP,\n" +
			"through its pid file); the change goes to the audit trail.\n" +
			"With --server the pack is uploaded to that server's API (an admin's credential, as for\n" +
			"the other commands; at most 128 MiB), which runs the same checks and loads it at once.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if cl, err := remoteClient(cmd, cfg); cl != nil || err != nil {
				if err != nil {
					return err
				}
				return uploadPack(cmd, cl, args[0])
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			sources, err := logSources(cmd)
			if err != nil {
				return err
			}
			chk := content.Checker{LogSources: sources, YARA: yaracChecker(), Known: serverRules(cmd, cfg.Detections)}
			ch, rep, err := content.Dir{Path: cfg.contentDir()}.Update(f, cfg.Content.Keys(), chk, actorName())
			for _, w := range rep.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			if err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), loadCounts(rep))
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			was := ""
			if ch.Previous != "" {
				was = " (was " + ch.Previous + ", kept for rollback)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "installed %s %s%s; %s\n", ch.Name, ch.Version, was, tellServer(cfg))
			return nil
		},
	}
	addLogSourcesFlag(c)
	addServerFlag(c)
	return c
}

// addServerFlag adds --server: do the change through that server's API
// instead of in this machine's data directory.
func addServerFlag(c *cobra.Command) {
	c.Flags().String("server", "", "server URL (https://host:port): do it through the server's API, with an admin's credential")
}

// remoteClient is a client of the server named by --server, or nil
// without the flag. The CA file and credential come as for every other
// command (client.ca_file, LACHAN_TOKEN, lachan login to that server).
func remoteClient(cmd *cobra.Command, cfg *Config) (*client.Client, error) {
	server, _ := cmd.Flags().GetString("server")
	if server == "" {
		return nil, nil
	}
	cfg.Client.Server = server
	cc := cfg.client()
	return client.New(cc.Server, cc.CAFile, cc.TokenFile, cc.Token)
}

// uploadPack sends a pack file to the server, which checks, installs and
// loads it.
func uploadPack(cmd *cobra.Command, cl *client.Client, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > api.MaxContentUpload {
		return fmt.Errorf("%s: %d MiB, over the %d MiB the API takes: install it on the server's machine", file, st.Size()>>20, api.MaxContentUpload>>20)
	}
	var res api.ContentResult
	if err := cl.PostFile(cmd.Context(), api.PathContent, "application/json", f, &res); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
	}
	fmt.Fprintln(cmd.OutOrStdout(), loadCounts(content.Report{Sigma: res.Sigma, Correlations: res.Correlations, YARA: res.YARA, Osquery: res.Osquery}))
	was := ""
	if res.Change.Previous != "" {
		was = " (was " + res.Change.Previous + ", kept for rollback)"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "installed %s %s%s; the server loaded it (agents' rules %s)\n", res.Change.Name, res.Change.Version, was, res.RulesVersion)
	return nil
}

func listPacksCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "list [--json]",
		Short: "The content packs installed on this server machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			list, err := installedPacks(cmd, cfg)
			if err != nil {
				return err
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				return writePackList(cmd.OutOrStdout(), list)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tACTIVE\tCREATED\tKEY\tCONTENT\tSOURCE")
			for _, i := range list {
				active := ""
				if i.Active {
					active = "yes"
				}
				created := ""
				if !i.Manifest.Created.IsZero() {
					created = i.Manifest.Created.Format(time.RFC3339)
				}
				what := partSummary(i.Manifest)
				if i.Problem != "" {
					what = "unusable: " + i.Problem
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", visible(i.Manifest.Name), visible(i.Manifest.Version), active, created, i.Key, visible(what), visible(sources(i.Manifest)))
			}
			return tw.Flush()
		},
	}
	c.Flags().Bool("json", false, "JSON lines")
	addServerFlag(c)
	return c
}

// installedPacks lists the packs of this machine's data directory, or of
// the server named by --server.
func installedPacks(cmd *cobra.Command, cfg *Config) ([]content.Installed, error) {
	cl, err := remoteClient(cmd, cfg)
	if err != nil {
		return nil, err
	}
	if cl == nil {
		return content.Dir{Path: cfg.contentDir()}.List(cfg.Content.Keys())
	}
	var out api.ContentList
	if err := cl.Get(cmd.Context(), api.PathContent, nil, &out); err != nil {
		return nil, err
	}
	list := make([]content.Installed, 0, len(out.Packs))
	for _, p := range out.Packs {
		list = append(list, content.Installed{Manifest: content.Manifest{Name: p.Name, Version: p.Version, Created: p.Created, Parts: p.Parts},
			Key: p.Key, Active: p.Active, Problem: p.Problem})
	}
	return list, nil
}

func sources(m content.Manifest) string {
	var out []string
	for _, p := range m.Parts {
		if p.Source != "" {
			out = append(out, p.Kind+": "+p.Source)
		}
	}
	return strings.Join(out, "; ")
}

func writePackList(w io.Writer, list []content.Installed) error {
	enc := json.NewEncoder(w)
	for _, i := range list {
		parts := make([]content.Part, 0, len(i.Manifest.Parts))
		for _, p := range i.Manifest.Parts {
			p.Licence = "" // long; in the pack file
			parts = append(parts, p)
		}
		if err := enc.Encode(api.ContentPack{Name: i.Manifest.Name, Version: i.Manifest.Version, Active: i.Active, Created: i.Manifest.Created, Key: i.Key, Parts: parts, Problem: i.Problem}); err != nil {
			return err
		}
	}
	return nil
}

func rollbackCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "rollback NAME [--server URL]",
		Short: "Make the version of a content pack before the active one active again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if cl, err := remoteClient(cmd, cfg); cl != nil || err != nil {
				if err != nil {
					return err
				}
				var res api.ContentResult
				if err := cl.Post(cmd.Context(), api.PathContentRollback, api.ContentRollback{Name: args[0]}, &res); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s active again (was %s); the server loaded it\n", res.Change.Name, res.Change.Version, res.Change.Previous)
				return nil
			}
			ch, err := content.Dir{Path: cfg.contentDir()}.Rollback(args[0], actorName())
			if errors.Is(err, content.ErrNotInstalled) {
				return fmt.Errorf("%w (lachan rules list)", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s active again (was %s); %s\n", ch.Name, ch.Version, ch.Previous, tellServer(cfg))
			return nil
		},
	}
	addServerFlag(c)
	return c
}

// actorName is who changes the content, for the audit trail: the local
// account (installing takes a shell on the server's machine).
func actorName() string {
	if u, err := user.Current(); err == nil {
		return "local:" + u.Username
	}
	return "local"
}
