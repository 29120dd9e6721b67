package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"lachan/internal/event"
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
	c.AddCommand(test)
	return c
}
