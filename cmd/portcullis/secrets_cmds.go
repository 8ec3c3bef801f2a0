package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/secrets"
	"github.com/portcullis/portcullis/internal/store/backend"
)

// secretsCmd is `portcullis secrets`: the secret store, encrypted at rest.
func secretsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Keep the secrets manifests name (apiKeyEnv, clientSecretEnv, secretEnv) in the store, encrypted",
		Args:  usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(secretsSetCmd(), secretsListCmd(), secretsDeleteCmd(), secretsRotateCmd())
	return cmd
}

func secretsSetCmd() *cobra.Command {
	var fromEnv string
	cmd := &cobra.Command{
		Use:   "set NAME [--from-env VAR]",
		Short: "Store a secret's value (read from stdin, or from the variable --from-env names)",
		Long: `Store a secret through the admin API. The gateway encrypts it with its master key
(PORTCULLIS_MASTER_KEY on the gateway) before it reaches the store. The value is
read from stdin (one trailing newline is dropped), or from the environment variable
--from-env names, never from the command line, where other users could see it.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !secrets.ValidName(name) {
				return usageError{fmt.Errorf("secret name %q: want an environment variable name, [A-Z_][A-Z0-9_]*", name)}
			}
			var value []byte
			if fromEnv != "" {
				value = []byte(os.Getenv(fromEnv))
			} else {
				data, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), secrets.MaxValueBytes+2))
				if err != nil {
					return err
				}
				value = bytes.TrimSuffix(bytes.TrimSuffix(data, []byte("\n")), []byte("\r"))
			}
			defer clear(value)
			if len(value) == 0 {
				return usageError{errors.New("the value is empty: pipe it on stdin or name a set variable with --from-env")}
			}
			if err := adminClient().SetSecret(cmd.Context(), name, value); err != nil {
				return reportAdminError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "secret %s stored\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&fromEnv, "from-env", "", "read the value from this environment variable instead of stdin")
	return cmd
}

func secretsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "One line per stored secret: name, master key id, last change, author (never the value)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := adminClient().Secrets(cmd.Context())
			if err != nil {
				return reportAdminError(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, s := range list {
				fmt.Fprintf(tw, "%s\tkey %s\t%s\t%s\n", s.Name, s.KeyID, s.UpdatedAt.UTC().Format(time.RFC3339), s.Author)
			}
			return tw.Flush()
		},
	}
}

func secretsDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a stored secret",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := adminClient().DeleteSecret(cmd.Context(), args[0]); err != nil {
				return reportAdminError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "secret %s deleted\n", args[0])
			return nil
		},
	}
}

// secretsRotateCmd re-seals every stored secret's data key with a new master
// key. It works on the store itself, not through the admin API, so that no
// master key ever travels over the network: it needs the keys, which the
// gateway's admin API never hands out, and the store, which a node shares.
func secretsRotateCmd() *cobra.Command {
	storeURL, newKeyFile := "sqlite:portcullis.db", ""
	cmd := &cobra.Command{
		Use:   "rotate-master-key --store URL [--new-key-file FILE]",
		Short: "Re-encrypt every stored secret's data key from the current master key to a new one, in one transaction",
		Long: `Re-encrypt the data key of every stored secret with a new master key, in one
transaction: every secret moves to the new key, or none does. The values themselves are
not decrypted. The current key comes from PORTCULLIS_MASTER_KEY (or _FILE; a key in
PORTCULLIS_MASTER_KEY_PREVIOUS opens too), the new one from --new-key-file or
PORTCULLIS_NEW_MASTER_KEY (or _FILE).

Without downtime: first restart the gateways one by one with PORTCULLIS_MASTER_KEY set to
the new key and PORTCULLIS_MASTER_KEY_PREVIOUS to the old one (they open secrets sealed
with either), then run this, then drop PORTCULLIS_MASTER_KEY_PREVIOUS at the next restart.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			current, err := secrets.LoadKeyring(os.Getenv, log)
			if err != nil {
				return err
			}
			if current == nil {
				return errors.New("the current master key is not set: " + secrets.ErrNoMasterKey.Error())
			}
			var next *secrets.Key
			if newKeyFile != "" {
				next, err = secrets.KeyFromFile(newKeyFile, log)
			} else {
				next, err = secrets.KeyFromEnv(os.Getenv, secrets.EnvNewMasterKey, log)
			}
			switch {
			case err != nil:
				return err
			case next == nil:
				return usageError{errors.New("name the new master key: --new-key-file FILE or " + secrets.EnvNewMasterKey)}
			}
			if path, ok := strings.CutPrefix(storeURL, "sqlite:"); ok {
				if _, err := os.Stat(path); err != nil {
					return fmt.Errorf("--store %s: %w", storeURL, err) // Open would make a new, empty one
				}
			}
			st, err := backend.Open(cmd.Context(), storeURL)
			if err != nil {
				return err
			}
			defer st.Close()
			rotated := current.RotateTo(next)
			n, err := st.RewrapSecrets(cmd.Context(), rotated.Rewrap)
			if err != nil {
				return fmt.Errorf("%w; nothing was changed", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d secret(s) re-encrypted to master key %s\n", n, next.ID())
			// The audit trail's batches next, in a transaction of their own:
			// running the command again only touches what is not rotated yet.
			b, err := st.RewrapAudit(cmd.Context(), rotated)
			if err != nil {
				return fmt.Errorf("the secrets are rotated but the audit trail is not (run the command again): %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d audit batch(es) re-encrypted to master key %s\n", b, next.ID())
			return nil
		},
	}
	cmd.Flags().StringVar(&storeURL, "store", storeURL, "the store: sqlite:PATH or postgres://… (as for run)")
	cmd.Flags().StringVar(&newKeyFile, "new-key-file", "", "a file holding the new master key's base64 text (else "+secrets.EnvNewMasterKey+")")
	return cmd
}
