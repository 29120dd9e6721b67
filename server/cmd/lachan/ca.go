package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"lachan/server/pki"
)

// caCmd shows the CA's fingerprint, which an operator copies into the
// one-line enrollment of each PC: the agent fetches the CA from the server
// and takes it only when this fingerprint matches.
func caCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "ca",
		Short: "Show the CA's SHA-256 fingerprint and the command that enrolls a PC with it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			path := filepath.Join(cfg.pkiDir(), pki.CAFile)
			b, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("CA certificate %s: %w (chưa chạy lachan serve với data_dir này? / has lachan serve run with this data_dir?)", path, err)
			}
			blk, _ := pem.Decode(b)
			if blk == nil || blk.Type != "CERTIFICATE" {
				return fmt.Errorf("CA certificate %s: no PEM certificate", path)
			}
			if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
				return fmt.Errorf("CA certificate %s: %w", path, err)
			}
			sum := sha256.Sum256(blk.Bytes)
			fp := hex.EncodeToString(sum[:])
			out := cmd.OutOrStdout()
			switch {
			case mustBool(cmd, "pem"):
				_, err = out.Write(b)
				return err
			case mustBool(cmd, "sha256"):
				_, err = fmt.Fprintln(out, fp)
				return err
			}
			host := enrollHost(cfg.API.Hostnames)
			port := "8443"
			if _, p, err := net.SplitHostPort(cfg.API.Listen); err == nil {
				port = p
			}
			fmt.Fprintf(out, "Dấu vân tay SHA-256 của CA / CA SHA-256 fingerprint:\n  %s\n\n", fp)
			fmt.Fprintf(out, "Ghi danh một máy (bí mật của đơn vị: lachan units) / Enroll a PC (the unit's secret: lachan units):\n")
			fmt.Fprintf(out, "  lachan-agent enroll --server %s --ca-sha256 %s --secret SECRET\n", net.JoinHostPort(host, port), fp)
			return nil
		},
	}
	c.Flags().Bool("sha256", false, "print the fingerprint only")
	c.Flags().Bool("pem", false, "print the CA certificate (PEM)")
	return c
}

func mustBool(cmd *cobra.Command, name string) bool {
	v, _ := cmd.Flags().GetBool(name)
	return v
}

// enrollHost is the name PCs should use: the first of the certificate's
// names that is not this machine's loopback, as a PC cannot reach that.
func enrollHost(names []string) string {
	for _, n := range names {
		if ip := net.ParseIP(n); n != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return n
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return "HOST"
}
