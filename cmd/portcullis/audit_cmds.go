package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/adminclient"
)

// auditCmd is `portcullis audit export`: the audit trail as JSON lines.
func auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit trail",
		Args:  usageArgs(cobra.NoArgs),
	}
	var since, consumer, route string
	export := &cobra.Command{
		Use:   "export --since RFC3339 [--consumer NAME] [--route NAME]",
		Short: "Write the audit records since a time to stdout as JSON lines, newest first",
		Long: `Write every audit record at or after --since (RFC 3339, e.g. 2026-11-28T00:00:00Z),
one JSON object a line, newest first, paging through GET /admin/v1/audit
until none remain. Paths are redacted as the gateway stored them.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since == "" {
				return usageError{errors.New("--since RFC3339 is required")}
			}
			t, err := time.Parse(time.RFC3339Nano, since)
			if err != nil {
				return usageError{errors.New("--since: want an RFC 3339 time such as 2026-11-28T00:00:00Z")}
			}
			client := adminClient()
			out := bufio.NewWriter(cmd.OutOrStdout())
			enc := json.NewEncoder(out)
			q := adminclient.AuditQuery{Consumer: consumer, Route: route, Since: t, Limit: 1000}
			for {
				recs, next, err := client.Audit(cmd.Context(), q)
				if err != nil {
					_ = out.Flush()
					return reportAdminError(err)
				}
				for _, r := range recs {
					if err := enc.Encode(r); err != nil {
						return err
					}
				}
				if next == "" {
					return out.Flush()
				}
				q.Cursor = next
			}
		},
	}
	export.Flags().StringVar(&since, "since", "", "export the records at or after this RFC 3339 time (required)")
	export.Flags().StringVar(&consumer, "consumer", "", "only this consumer's records")
	export.Flags().StringVar(&route, "route", "", "only this route's records")
	cmd.AddCommand(export)
	return cmd
}
