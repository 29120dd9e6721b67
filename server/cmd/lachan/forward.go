package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lachan/internal/atomicfile"
	"lachan/internal/tlsconf"
	"lachan/server/api"
	"lachan/server/forward"
	"lachan/server/mask"
	"lachan/server/pki"
)

func (c *Config) forwardDir() string { return filepath.Join(c.DataDir, "forward") }

func forwardCmd() *cobra.Command {
	c := &cobra.Command{Use: "forward", Short: "The national connection: outbox, audit, keys, re-identification, indicators"}
	pub := &cobra.Command{
		Use:   "pubkey",
		Short: "Print this server's signing public key (made on first use), for the upper tier's forward.receive.senders",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			key, err := forward.LoadOrCreateKey(cfg.forwardDir())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), forward.FormatPublicKey(key.Public().(ed25519.PublicKey)))
			return err
		},
	}
	request := &cobra.Command{
		Use:   "sender-request NAME",
		Short: "On a lower tier: make the key of this server's client certificate for its upper tier and print the request to sign",
		Long: "Makes a P-256 key in <data_dir>/forward/sender.key (mode 0600; an existing key is kept unless --force)\n" +
			"and prints a certificate request naming NAME, the name the upper tier knows this server by.\n" +
			"The upper tier signs it with `lachan forward sign-sender NAME FILE`; set the result as\n" +
			"forward.upstream.cert_file and the key as forward.upstream.key_file.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			force, _ := cmd.Flags().GetBool("force")
			path := filepath.Join(cfg.forwardDir(), "sender.key")
			if _, err := os.Stat(path); err == nil && !force {
				return fmt.Errorf("%s exists: its certificate may be in use; pass --force to replace it", path)
			}
			keyPEM, csrPEM, err := pki.NewClientRequest(args[0])
			if err != nil {
				return err
			}
			if err := os.MkdirAll(cfg.forwardDir(), 0o700); err != nil {
				return err
			}
			if err := atomicfile.Write(path, keyPEM, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "key written to %s (forward.upstream.key_file)\n", path)
			_, err = cmd.OutOrStdout().Write(csrPEM)
			return err
		},
	}
	request.Flags().Bool("force", false, "replace an existing key")
	signSender := &cobra.Command{
		Use:   "sign-sender NAME REQUEST_FILE",
		Short: "On an upper tier: sign a lower tier's certificate request as sender NAME and print the certificate",
		Long: "Signs with this server's CA (in data_dir; run it where lachan serve keeps its data) a client\n" +
			"certificate valid for one year that this server's TAXII receiver takes as sender NAME of\n" +
			"forward.receive.senders. The request's own subject is ignored: NAME is what counts.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			csr, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			ca, err := pki.OpenCA(cfg.pkiDir())
			if err != nil {
				return err
			}
			known := false
			for _, s := range cfg.Forward.Receive.Senders {
				known = known || s.Name == args[0]
			}
			if !known {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %q is not in forward.receive.senders yet; its requests are refused until it is\n", args[0])
			}
			cert, err := ca.SignSender(string(csr), args[0])
			if err != nil {
				return fmt.Errorf("%s: %w", args[1], err)
			}
			_, err = io.WriteString(cmd.OutOrStdout(), cert)
			return err
		},
	}
	outbox := listCmd("outbox", "Entries of the forwarding outbox and their state", api.PathForwardOutbox, "ENTRY\tSTATE\tATTEMPTS\tNEXT\tLAST ERROR",
		func(o struct{ Entries []forward.Entry }) [][]string {
			var rows [][]string
			for _, e := range o.Entries {
				rows = append(rows, []string{e.ID, e.State, fmt.Sprint(e.Attempts), e.NextAt.Format(time.RFC3339), e.LastErr})
			}
			return rows
		})
	attempts := listCmd("attempts", "The audit of every delivery attempt", api.PathForwardAttempts, "AT\tENTRY\tTARGET\tOUTCOME\tSTATUS\tERROR",
		func(o struct{ Attempts []forward.Attempt }) [][]string {
			var rows [][]string
			for _, a := range o.Attempts {
				rows = append(rows, []string{a.At.Format(time.RFC3339), a.Entry, a.Target, a.Outcome, fmt.Sprint(a.Status), a.Error})
			}
			return rows
		})
	reid := &cobra.Command{
		Use:   "reidentify TOKEN",
		Short: "Name the value behind a pseudonym this server handed out (administrators only; logged)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var e mask.Entry
			if err := cl.Get(cmd.Context(), api.PathForwardReidentify+"/"+args[0], nil, &e); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), e)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\n", e.Token, e.Type, e.Value)
			return err
		},
	}
	addJSONFlag(reid)
	c.AddCommand(pub, request, signSender, outbox, attempts, reid, publishCmd(), receivedCmd())
	return c
}

func publishCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "publish FILE",
		Short: "Publish a STIX 2.1 bundle of indicators for lower tiers to poll (administrators; this server must be an upper tier)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			out, err := taxiiRequest(cmd, http.MethodPost, "collections/"+forward.IndicatorsCollectionID()+"/objects/", body)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(out, '\n'))
			return err
		},
	}
}

func receivedCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "received",
		Short: "Print the objects lower tiers sent, as a TAXII envelope, oldest first (administrators and analysts)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := taxiiRequest(cmd, http.MethodGet, "collections/"+forward.IncidentsCollectionID()+"/objects/", nil)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(out, '\n'))
			return err
		},
	}
}

// taxiiRequest calls this server's TAXII API root with the operator token.
func taxiiRequest(cmd *cobra.Command, method, path string, body []byte) ([]byte, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	cc := cfg.client()
	tok := cc.Token
	if tok == "" {
		b, err := os.ReadFile(cc.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("operator token: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	caPEM, err := os.ReadFile(cc.CAFile)
	if err != nil {
		return nil, fmt.Errorf("server CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsconf.WithRoots(pool)}}
	req, err := http.NewRequestWithContext(cmd.Context(), method, strings.TrimRight(cc.Server, "/")+forward.APIRootPath+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", forward.MediaType)
	if body != nil {
		req.Header.Set("Content-Type", forward.MediaType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("server answered %d: %s", resp.StatusCode, bytes.TrimSpace(out))
	}
	return out, nil
}
