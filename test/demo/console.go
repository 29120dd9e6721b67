package main

import (
	"context"
	"fmt"

	"lachan/server/user"
	"lachan/test/harness"
)

// demoAnalyst is the account the demo makes for the console.
const demoAnalyst = "demo-analyst"

// printConsole makes the demo's analyst through the server's own account
// code (lachan users add) and prints where the console is and how to log
// in; the one-time password is changed at first login.
func printConsole(ctx context.Context, srv *harness.Server) error {
	var a user.Added
	if err := srv.CLIJSON(ctx, &a, "users", "add", demoAnalyst, "--role", "analyst"); err != nil {
		return fmt.Errorf("demo analyst: %w", err)
	}
	fmt.Printf("\nBảng điều khiển / console: https://%s/  (chứng chỉ do CA của máy chủ cấp / certificate from the server's CA: %s)\n", srv.Addr, srv.CAFile())
	fmt.Printf("  đăng nhập / log in: %s, mật khẩu dùng một lần / one-time password: %s\n", a.User.Name, a.Password)
	fmt.Printf("  (đổi mật khẩu ở lần đăng nhập đầu / you set your own password at first login)\n")
	return nil
}
