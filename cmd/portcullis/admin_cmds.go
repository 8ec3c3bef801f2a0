package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/adminclient"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/control"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// adminClient reads PORTCULLIS_ADMIN_URL and PORTCULLIS_ADMIN_TOKEN and,
// for an https:// URL, PORTCULLIS_ADMIN_CA (the admin certificate's CA when
// it is not in the system roots) and PORTCULLIS_ADMIN_CLIENT_CERT and
// PORTCULLIS_ADMIN_CLIENT_KEY (when the admin requires a client
// certificate).
func adminClient() *adminclient.Client {
	base := os.Getenv("PORTCULLIS_ADMIN_URL")
	if base == "" {
		base = "http://127.0.0.1:9901"
	}
	token := os.Getenv("PORTCULLIS_ADMIN_TOKEN")
	if !strings.HasPrefix(base, "https://") {
		return adminclient.New(base, token)
	}
	return adminclient.NewTLS(base, token, adminclient.TLS{CAFile: os.Getenv("PORTCULLIS_ADMIN_CA"),
		CertFile: os.Getenv("PORTCULLIS_ADMIN_CLIENT_CERT"), KeyFile: os.Getenv("PORTCULLIS_ADMIN_CLIENT_KEY")})
}

// reportAdminError prints what the admin API said, every problem on its own line.
func reportAdminError(err error) error {
	var ae *adminclient.Error
	if errors.As(err, &ae) {
		fmt.Fprintln(os.Stderr, "portcullis:", ae.Error())
		for _, p := range ae.Problems {
			fmt.Fprintln(os.Stderr, p)
		}
		for _, w := range ae.Weakening {
			fmt.Fprintf(os.Stderr, "! %s %q: %s\n", w.Kind, w.Name, w.Reason)
		}
		return refusedError{err}
	}
	return err
}

func policyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Read, change and check policy versions through the admin API"}
	cmd.AddCommand(policyHistoryCmd(), policyShowCmd(), policyDiffCmd(), policyApplyCmd(), policyRollbackCmd(), policyVerifyCmd(), policyTestCmd())
	return cmd
}

func policyHistoryCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "One line per version: number, time, author, flags, reason",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			versions, err := adminClient().Versions(cmd.Context())
			if err != nil {
				return reportAdminError(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, v := range versions {
				var flags []string
				if v.Weakening {
					flags = append(flags, "weakening")
				}
				if v.Rollback {
					flags = append(flags, "rollback-of-"+strconv.FormatInt(v.RollbackOf, 10))
				}
				if len(flags) == 0 {
					flags = append(flags, "-")
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Version, v.CreatedAt.UTC().Format(time.RFC3339), v.Author, strings.Join(flags, ","), v.Reason)
			}
			return tw.Flush()
		},
	}
}

func policyShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show N",
		Short: "Print version N: its record and its manifests",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := versionArg(args[0])
			if err != nil {
				return err
			}
			v, err := adminClient().Version(cmd.Context(), n)
			if err != nil {
				return reportAdminError(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "# version %d, %s by %s: %s\n# hash %s (previous %s)\n", v.Version, v.CreatedAt.UTC().Format(time.RFC3339), v.Author, v.Reason, v.Hash, v.PrevHash)
			_, err = io.WriteString(out, v.Manifests)
			return err
		},
	}
}

func policyDiffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff A B",
		Short: "What changed from version A to version B, weakening changes flagged",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := versionArg(args[0])
			if err != nil {
				return err
			}
			b, err := versionArg(args[1])
			if err != nil {
				return err
			}
			d, err := adminClient().DiffVersions(cmd.Context(), a, b)
			if err != nil {
				return reportAdminError(err)
			}
			printDiff(cmd.OutOrStdout(), d)
			return nil
		},
	}
}

func policyApplyCmd() *cobra.Command {
	var o adminclient.ApplyOptions
	cmd := &cobra.Command{
		Use:   "apply PATH --reason TEXT",
		Short: "Propose the manifests at PATH as the new policy version",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(o.Reason) == "" {
				return usageError{errors.New("--reason TEXT is required: every policy change says why")}
			}
			files, err := readManifestFiles(args[0])
			if err != nil {
				return err
			}
			d, err := adminClient().Apply(cmd.Context(), files, o)
			if err != nil {
				return reportAdminError(err)
			}
			out := cmd.OutOrStdout()
			switch {
			case o.DryRun:
				fmt.Fprintln(out, "dry run: valid, tests pass; nothing applied")
				if len(d.Weakening) > 0 && !o.AllowWeakening {
					fmt.Fprintln(out, "this change weakens the policy: applying it needs --allow-weakening")
				}
			case d.Shadow != nil:
				fmt.Fprintf(out, "shadowing candidate %s on live traffic (see GET /admin/v1/policy/shadow)\n", d.Shadow.Hash)
			default:
				fmt.Fprintf(out, "applied as version %d\n", d.Version)
			}
			printDiff(out, d)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Reason, "reason", "", "why this change is made (required; kept in the history)")
	f.BoolVar(&o.DryRun, "dry-run", false, "validate, diff and test only; apply nothing")
	f.BoolVar(&o.AllowWeakening, "allow-weakening", false, "apply even if the change weakens security (it is flagged in the history)")
	f.BoolVar(&o.Shadow, "shadow", false, "evaluate the candidate beside the active policy on live traffic instead of applying it")
	f.Int64Var(&o.Base, "base", 0, "refuse if the active version is no longer N (a concurrent change)")
	return cmd
}

func policyRollbackCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "rollback N --reason TEXT",
		Short: "Make version N's content active again, as a new version",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := versionArg(args[0])
			if err != nil {
				return err
			}
			if strings.TrimSpace(reason) == "" {
				return usageError{errors.New("--reason TEXT is required")}
			}
			v, err := adminClient().Rollback(cmd.Context(), n, reason)
			if err != nil {
				return reportAdminError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rolled back to version %d's content as version %d\n", n, v)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; kept in the history)")
	return cmd
}

func policyVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check the hash chain of the policy history",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := adminClient().Verify(cmd.Context())
			if err != nil {
				return reportAdminError(err)
			}
			if !r.OK {
				fmt.Fprintf(os.Stderr, "the history's hash chain is broken at version %d (of %d): a stored version was changed\n", r.BrokenAt, r.Versions)
				return refusedError{errors.New("broken chain")}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d versions, hash chain intact\n", r.Versions)
			return nil
		},
	}
}

func consumerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "consumer", Short: "Manage API consumers through the admin API"}
	var roles []string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a consumer",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := adminClient().CreateConsumer(cmd.Context(), args[0], roles); err != nil {
				return reportAdminError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "consumer %s created\n", args[0])
			return nil
		},
	}
	create.Flags().StringArrayVar(&roles, "role", nil, "a role (repeatable)")
	cmd.AddCommand(create)
	return cmd
}

func keyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage API keys through the admin API"}
	var consumer, name string
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create --consumer NAME",
		Short: "Create an API key; it is printed once and stored only as a hash",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if consumer == "" {
				return usageError{errors.New("--consumer NAME is required")}
			}
			var expires *time.Time
			if ttl > 0 {
				t := time.Now().Add(ttl)
				expires = &t
			}
			k, err := adminClient().CreateKey(cmd.Context(), consumer, name, expires)
			if err != nil {
				return reportAdminError(err)
			}
			fmt.Fprintf(os.Stderr, "key %s for %s — shown this once only; it is stored as a hash\n", k.ID, k.Consumer)
			fmt.Fprintln(cmd.OutOrStdout(), k.Key)
			return nil
		},
	}
	create.Flags().StringVar(&consumer, "consumer", "", "the consumer that owns the key (required)")
	create.Flags().StringVar(&name, "name", "", "a label for the key")
	create.Flags().DurationVar(&ttl, "ttl", 0, "the key expires after this long (default: never)")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := adminClient().RevokeKey(cmd.Context(), args[0]); err != nil {
				return reportAdminError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, revoke)
	return cmd
}

func versionArg(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, usageError{fmt.Errorf("%q is not a version number", s)}
	}
	return n, nil
}

// readManifestFiles reads PATH (a file, or a folder's *.yaml/*.yml) as the
// files of a policy, keeping their names so that problems point at them.
func readManifestFiles(path string) ([]adminclient.File, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	names := []string{path}
	if info.IsDir() {
		names = nil
		for _, pattern := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(path, pattern))
			names = append(names, m...)
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml or *.yml files", path)
		}
	}
	files := make([]adminclient.File, 0, len(names))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		files = append(files, adminclient.File{Name: filepath.Base(name), Content: string(data)})
	}
	return files, nil
}

func printDiff(w io.Writer, d adminclient.Diff) {
	fmt.Fprintf(w, "%d changes, %d weakening\n", len(d.Changes), len(d.Weakening))
	for _, c := range d.Changes {
		fmt.Fprintln(w, "  "+describeChange(c))
	}
	if len(d.Weakening) > 0 {
		fmt.Fprintln(w, "weakening:")
		for _, c := range d.Weakening {
			fmt.Fprintf(w, "! %s %q: %s\n", c.Kind, c.Name, c.Reason)
		}
	}
}

func describeChange(c adminclient.Change) string {
	s := fmt.Sprintf("%s %q %s", c.Kind, c.Name, c.Op)
	if c.Field != "" {
		s += " " + c.Field
		if c.From != nil || c.To != nil {
			s += fmt.Sprintf(": %v → %v", c.From, c.To)
		}
	}
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	return s
}

func policyTestCmd() *cobra.Command {
	var casesFile string
	cmd := &cobra.Command{
		Use:   "test PATH --cases FILE",
		Short: "Run request cases against the policy at PATH, offline; exit 1 on any failure",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if casesFile == "" {
				return usageError{errors.New("--cases FILE is required")}
			}
			policy, err := config.Load(args[0])
			if err != nil {
				printProblems(err)
				return refusedError{err}
			}
			data, err := os.ReadFile(casesFile)
			if err != nil {
				return err
			}
			cases, err := config.ParseCases(casesFile, data)
			if err != nil {
				printProblems(err)
				return refusedError{err}
			}
			snap, err := snapshot.Compile(policy, snapshot.Deps{Metrics: metrics.New()}, nil)
			if err != nil {
				return err
			}
			defer snap.Release(nil)
			out := cmd.OutOrStdout()
			failed := 0
			for _, c := range cases {
				if f := control.RunCase(snap, c); f != nil {
					failed++
					fmt.Fprintf(out, "FAIL %s: want %d, got %d", c.Name, f.Want, f.Got)
					if f.Detail != "" {
						fmt.Fprintf(out, " (%s)", f.Detail)
					}
					fmt.Fprintln(out)
					continue
				}
				fmt.Fprintf(out, "ok   %s\n", c.Name)
			}
			own := control.RunPolicyTests(snap, policy)
			for _, f := range own {
				fmt.Fprintf(out, "FAIL %s (declared in the policy)\n", f.String())
			}
			failed += len(own)
			fmt.Fprintf(out, "%d cases, %d failed\n", len(cases)+countCases(policy), failed)
			if failed > 0 {
				return refusedError{errors.New("policy test failed")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&casesFile, "cases", "", "a PolicyTest manifest or a bare cases: list (required)")
	return cmd
}

func countCases(p *config.Policy) int {
	n := 0
	for _, t := range p.PolicyTests {
		n += len(t.Spec.Cases)
	}
	return n
}

// blockCmd is CONTRACT §1's `portcullis block`; its list and remove
// subcommands are extensions beyond the contract.
func blockCmd() *cobra.Command {
	var nb adminclient.NewBlock
	cmd := &cobra.Command{
		Use:   "block --ip IP|--consumer NAME|--key ID --ttl DUR --reason TEXT",
		Short: "Block an IP address or network, a consumer or an API key now, until the ttl runs out (incident response)",
		Long: `Block an IP address or CIDR, a consumer or an API key on every node, for --ttl.
Blocked requests get 403 with decision "blocked".

The subcommands "block list" and "block remove ID" are extensions beyond
CONTRACT §1: they list the blocks in force and lift one before it expires.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			subjects := 0
			for _, v := range []string{nb.IP, nb.Consumer, nb.KeyID} {
				if v != "" {
					subjects++
				}
			}
			switch {
			case subjects != 1:
				return usageError{errors.New("give exactly one of --ip, --consumer and --key")}
			case nb.TTL <= 0:
				return usageError{errors.New("--ttl DUR is required and must be positive")}
			case strings.TrimSpace(nb.Reason) == "":
				return usageError{errors.New("--reason TEXT is required")}
			}
			b, err := adminClient().CreateBlock(cmd.Context(), nb)
			if err != nil {
				return reportAdminError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "block %s: %s %s until %s\n", b.ID, b.Kind, b.Value, b.ExpiresAt.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&nb.IP, "ip", "", "an IP address or CIDR to block")
	cmd.Flags().StringVar(&nb.Consumer, "consumer", "", "a consumer to block")
	cmd.Flags().StringVar(&nb.KeyID, "key", "", "an API key id to block")
	cmd.Flags().DurationVar(&nb.TTL, "ttl", 0, "how long the block lasts, e.g. 15m (required)")
	cmd.Flags().StringVar(&nb.Reason, "reason", "", "why (required)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the blocks in force (an extension beyond CONTRACT §1)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			bs, err := adminClient().Blocks(cmd.Context())
			if err != nil {
				return reportAdminError(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tVALUE\tEXPIRES\tAUTHOR\tREASON")
			for _, b := range bs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Kind, b.Value, b.ExpiresAt.UTC().Format(time.RFC3339), b.Author, b.Reason)
			}
			return tw.Flush()
		},
	}
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Lift a block before it expires (an extension beyond CONTRACT §1)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := adminClient().RemoveBlock(cmd.Context(), args[0]); err != nil {
				return reportAdminError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "block %s removed\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, remove)
	return cmd
}
