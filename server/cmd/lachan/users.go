package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lachan/server/api"
	"lachan/server/client"
	"lachan/server/user"
)

func usersCmd() *cobra.Command {
	c := &cobra.Command{Use: "users", Short: "People's accounts: add, list, disable, enable, reset a password, enrol a second factor"}
	add := &cobra.Command{
		Use:   "add NAME --role ROLE [--unit UNIT]... [--email E]",
		Short: "Add an account; prints a one-time password that must be changed at first login",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			role, _ := cmd.Flags().GetString("role")
			units, _ := cmd.Flags().GetStringSlice("unit")
			email, _ := cmd.Flags().GetString("email")
			var a user.Added
			if err := post(cmd, api.PathUsers, api.UserRequest{Name: args[0], Role: role, Units: units, Email: email}, &a); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), a)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Tài khoản / account %s (%s)\n", a.User.Name, a.User.Role)
			fmt.Fprintf(w, "Mật khẩu dùng một lần / one-time password (shown once; changed at first login): %s\n", a.Password)
			printTOTP(w, a.TOTP)
			return nil
		},
	}
	add.Flags().String("role", "", "role: "+strings.Join(api.Roles(), ", "))
	add.Flags().StringSlice("unit", nil, "unit whose subtree the account covers (repeat; a responder needs one; none: all)")
	add.Flags().String("email", "", "e-mail address")
	add.MarkFlagRequired("role")
	addJSONFlag(add)
	list := listCmd("list", "List accounts", api.PathUsers, "NAME\tROLE\tUNITS\tTOTP\tSTATE\tLAST LOGIN", func(out struct{ Users []user.User }) [][]string {
		rows := [][]string{}
		for _, u := range out.Users {
			state := "active"
			switch {
			case u.Disabled:
				state = "disabled"
			case u.MustChange:
				state = "must change password"
			}
			rows = append(rows, []string{u.Name, u.Role, orAll(u.Units), yesNo(u.HasTOTP), state, ago(u.LastLogin)})
		}
		return rows
	})
	disable := userAction("disable NAME", "Disable an account and end its sessions", "disable", func(cmd *cobra.Command, name string, out map[string]any) {
		fmt.Fprintf(cmd.OutOrStdout(), "account %s disabled\n", name)
	})
	enable := userAction("enable NAME", "Let a disabled account log in again with its old password and second factor", "enable", func(cmd *cobra.Command, name string, out map[string]any) {
		fmt.Fprintf(cmd.OutOrStdout(), "account %s enabled\n", name)
	})
	reset := userAction("reset-password NAME", "Give an account a new one-time password and end its sessions", "reset-password", func(cmd *cobra.Command, name string, out map[string]any) {
		fmt.Fprintf(cmd.OutOrStdout(), "Mật khẩu dùng một lần / one-time password for %s (shown once): %s\n", name, out["password"])
	})
	totp := userAction("totp NAME", "Enrol a new second factor (RFC 6238) for an account, replacing any it had", "totp", func(cmd *cobra.Command, name string, out map[string]any) {
		printTOTP(cmd.OutOrStdout(), &user.TOTP{URI: fmt.Sprint(out["uri"]), Secret: fmt.Sprint(out["secret"])})
	})
	c.AddCommand(add, list, disable, enable, reset, totp)
	return c
}

func printTOTP(w interface{ Write([]byte) (int, error) }, t *user.TOTP) {
	if t == nil {
		return
	}
	fmt.Fprintf(w, "Xác thực hai lớp / second factor (shown once; scan the URI or type the secret into an authenticator app):\n  %s\n  secret: %s\n", t.URI, t.Secret)
}

func userAction(use, short, path string, show func(*cobra.Command, string, map[string]any)) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out map[string]any
			if err := post(cmd, api.PathUsers+"/"+url.PathEscape(args[0])+"/"+path, nil, &out); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), out)
			}
			show(cmd, args[0], out)
			return nil
		},
	}
	addJSONFlag(c)
	return c
}

func post(cmd *cobra.Command, path string, body, out any) error {
	cl, err := newClient(cmd)
	if err != nil {
		return err
	}
	return cl.Post(cmd.Context(), path, body, out)
}

func orAll(units []string) string {
	if len(units) == 0 {
		return "(all)"
	}
	return strings.Join(units, ",")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func tokensCmd() *cobra.Command {
	c := &cobra.Command{Use: "tokens", Short: "Tokens for machines and scripts: issue, list, revoke"}
	issue := &cobra.Command{
		Use:   "issue --name NAME --role ROLE [--unit UNIT]... [--expires DURATION]",
		Short: "Issue a token; its secret is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, _ := cmd.Flags().GetString("name")
			role, _ := cmd.Flags().GetString("role")
			units, _ := cmd.Flags().GetStringSlice("unit")
			exp, _ := cmd.Flags().GetDuration("expires")
			var is api.Issued
			if err := post(cmd, api.PathTokens, api.TokenRequest{Name: name, Role: role, Units: units, Expires: exp}, &is); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]any{"token": is.Token, "name": is.Issued.Name, "role": is.Issued.Role,
					"units": is.Issued.Units, "expires": is.Issued.Expires})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s (%s, units %s, expires %s), shown once:\n%s\n", name, role, orAll(units), never(is.Issued.Expires), is.Token)
			return nil
		},
	}
	issue.Flags().String("name", "", "unique name of the token")
	issue.Flags().String("role", "", "role: "+strings.Join(api.Roles(), ", "))
	issue.Flags().StringSlice("unit", nil, "unit whose subtree the token covers (repeat)")
	issue.Flags().Duration("expires", 0, "lifetime, e.g. 720h; 0 never expires")
	issue.MarkFlagRequired("name")
	issue.MarkFlagRequired("role")
	addJSONFlag(issue)
	list := listCmd("list", "List tokens (never their secrets)", api.PathTokens, "NAME\tROLE\tUNITS\tCREATED\tEXPIRES\tBY", func(out struct{ Tokens []api.Token }) [][]string {
		rows := [][]string{}
		for _, t := range out.Tokens {
			rows = append(rows, []string{t.Name, t.Role, orAll(t.Units), t.Created.Format(time.RFC3339), never(t.Expires), t.By})
		}
		return rows
	})
	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token; it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			if err := cl.Delete(cmd.Context(), api.PathTokens+"/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked\n", args[0])
			return nil
		},
	}
	c.AddCommand(issue, list, revoke)
	return c
}

func never(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func loginCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "login NAME",
		Short: "Log in as a person; later commands use the session until it expires",
		Args:  cobra.ExactArgs(1),
		RunE:  runLogin,
	}
	c.Flags().Bool("password-stdin", false, "read the password (and the one-time code, if needed, on the next line) from stdin")
	c.Flags().String("totp", "", "one-time code from the authenticator app")
	return c
}

func secrets(cmd *cobra.Command) *secretReader {
	piped, _ := cmd.Flags().GetBool("password-stdin")
	return &secretReader{stdin: bufio.NewReader(cmd.InOrStdin()), prompt: cmd.ErrOrStderr(), piped: piped}
}

func runLogin(cmd *cobra.Command, args []string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	cc := cfg.client()
	cl, err := client.New(cc.Server, cc.CAFile, "", "")
	if err != nil {
		return err
	}
	sr := secrets(cmd)
	pw, err := sr.read("Mật khẩu / password: ")
	if err != nil {
		return err
	}
	code, _ := cmd.Flags().GetString("totp")
	var lr api.LoginResponse
	err = cl.Post(cmd.Context(), api.PathLogin, api.LoginRequest{Name: args[0], Password: pw, TOTP: code}, &lr)
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && ae.Body.Field == "totp" && code == "" {
		if code, err = sr.readLine("Mã xác thực / one-time code: "); err != nil {
			return err
		}
		err = cl.Post(cmd.Context(), api.PathLogin, api.LoginRequest{Name: args[0], Password: pw, TOTP: code}, &lr)
	}
	if err != nil {
		return err
	}
	if err := writeSession(cc.SessionFile, savedSession{Server: cc.Server, Name: lr.Name, Token: lr.Token, Expires: lr.Expires}); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "logged in as %s (%s) until %s at the latest, %s idle\n", lr.Name, lr.Role, lr.Expires.Local().Format(time.RFC3339), time.Duration(lr.IdleSecs)*time.Second)
	if lr.MustChange {
		fmt.Fprintln(cmd.OutOrStdout(), "Đổi mật khẩu dùng một lần trước / change the one-time password first: lachan password")
	}
	return nil
}

func passwordCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "password",
		Short: "Change your own password (the session's account)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sr := secrets(cmd)
			old, err := sr.read("Mật khẩu cũ / old password: ")
			if err != nil {
				return err
			}
			pw, err := sr.read(fmt.Sprintf("Mật khẩu mới / new password (at least %d characters): ", user.MinPassword))
			if err != nil {
				return err
			}
			if !sr.piped {
				again, err := sr.read("Nhập lại / again: ")
				if err != nil {
					return err
				}
				if again != pw {
					return errors.New("the two new passwords differ")
				}
			}
			if err := post(cmd, api.PathPassword, api.PasswordRequest{Old: old, New: pw}, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "password changed; other sessions of this account ended")
			return nil
		},
	}
	c.Flags().Bool("password-stdin", false, "read the old and the new password from stdin, one a line")
	return c
}

func logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the session and remove the session file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			cc := cfg.client()
			s, err := readSession(cc.SessionFile)
			if err != nil {
				return fmt.Errorf("no session: %w", err)
			}
			cl, err := client.New(s.Server, cc.CAFile, "", s.Token)
			if err != nil {
				return err
			}
			err = cl.Post(cmd.Context(), api.PathLogout, struct{}{}, nil)
			var ae *client.APIError
			if err != nil && !(errors.As(err, &ae) && ae.Status == http.StatusUnauthorized) {
				return err
			}
			return os.Remove(cc.SessionFile)
		},
	}
}

func whoamiCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the server takes you for, and what you may do",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var who api.Whoami
			if err := cl.Get(cmd.Context(), api.PathWhoami, nil, &who); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), who)
			}
			perms := make([]string, len(who.Permissions))
			for i, p := range who.Permissions {
				perms[i] = string(p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s, %s), units %s\npermissions: %s\n", who.Name, who.Role, who.Kind, orAll(who.Units), strings.Join(perms, " "))
			return nil
		},
	}
	addJSONFlag(c)
	return c
}
