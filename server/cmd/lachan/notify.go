package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"lachan/internal/event"
	"lachan/server/api"
	"lachan/server/notify"
)

func notifyCmd() *cobra.Command {
	c := &cobra.Command{Use: "notify", Short: "Work with notification channels"}
	test := &cobra.Command{
		Use:   "test CHANNEL",
		Short: "Send a test message on a channel of the configuration (notify.channels) now, outside the queue",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if err := cfg.Notify.Validate(); err != nil {
				return err
			}
			now := time.Now().UTC()
			m := notify.Message{
				ID: event.DeriveID("notify-test", args[0], now.Format(time.RFC3339Nano)), Channel: args[0], Created: now,
				Subject: "[Lá Chắn] Thư thử kênh " + args[0] + " / Test message on channel " + args[0],
				Text: "Đây là thư thử của Lá Chắn: kênh thông báo hoạt động.\n\n---\n\n" +
					"This is a Lá Chắn test message: the notification channel works.\n",
				Data: map[string]any{"test": true},
			}
			if err := notify.Send(cmd.Context(), cfg.Notify, m); err != nil {
				return fmt.Errorf("kênh / channel %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "đã gửi / sent: %s (%s)\n", args[0], m.ID)
			return nil
		},
	}
	queue := &cobra.Command{
		Use:   "queue",
		Short: "List the notification queue: pending, sent and dead messages, with attempts and the last error (admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			var page api.NotificationsPage
			if err := cl.Get(cmd.Context(), api.PathNotifications, nil, &page); err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), page)
			}
			rows := make([][]string, 0, len(page.Messages))
			for _, e := range page.Messages {
				rows = append(rows, []string{e.Message.ID, e.Message.Channel, e.State, fmt.Sprint(e.Attempts), ago(e.Message.Created),
					visible(e.Message.Subject), visible(e.LastError)})
			}
			return table(cmd.OutOrStdout(), "ID\tCHANNEL\tSTATE\tATTEMPTS\tQUEUED\tSUBJECT\tLAST ERROR", rows)
		},
	}
	addJSONFlag(queue)
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "Put a dead notification back in the queue, to be tried now (admin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			if err := cl.Post(cmd.Context(), api.PathNotifications+"/"+url.PathEscape(args[0])+"/retry", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "đã xếp lại / queued again: %s\n", args[0])
			return nil
		},
	}
	c.AddCommand(test, queue, retry)
	return c
}
