// Command portcullis is the gateway's one binary: it serves (run), checks
// manifests (validate), and talks to a running gateway's admin API. The work is
// done in internal packages; this file only wires subcommands to them.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/node"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// usageError marks a command-line mistake (exit code 2).
type usageError struct{ error }

// refusedError marks a failure whose reason was already printed (exit code 1).
type refusedError struct{ error }

func main() {
	root := &cobra.Command{
		Use:           "portcullis",
		Short:         "An API and AI gateway whose centre is the security policy",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(runCmd(), validateCmd(), policyCmd(), consumerCmd(), keyCmd(), blockCmd(), auditCmd(), secretsCmd())
	err := root.Execute()
	var ue usageError
	var re refusedError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command"):
		fmt.Fprintln(os.Stderr, "portcullis:", err)
		fmt.Fprintln(os.Stderr, "Run 'portcullis --help' for usage.")
		os.Exit(2)
	case errors.As(err, &re):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "portcullis:", err)
		os.Exit(1)
	}
}

// usageArgs makes an argument-count mistake a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate PATH",
		Short: "Check a manifest file or folder; print every problem as FILE:LINE:COL: message",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := config.Load(args[0])
			if err != nil {
				printProblems(err)
				return refusedError{err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), p.Summary())
			return nil
		},
	}
}

// printProblems prints a config error one problem per line on stderr.
func printProblems(err error) {
	var problems config.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, p.String())
		}
		return
	}
	fmt.Fprintln(os.Stderr, "portcullis:", err)
}

func runCmd() *cobra.Command {
	var (
		opts   node.Options
		listen []string
		redis  string
		demoAt string
		// The admin listener's TLS files.
		adminCert, adminKey, adminClientCA string
	)
	cmd := &cobra.Command{
		Use:   "run --config PATH",
		Short: "Serve the gateway",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.ConfigPath == "" {
				return usageError{errors.New("--config PATH is required")}
			}
			if opts.AuditRetention < 0 {
				return usageError{errors.New("--audit-retention must not be negative (0 keeps records forever)")}
			}
			opts.RedisURL = redis
			switch {
			case adminCert != "" && adminKey != "":
				opts.AdminTLS = &certs.Source{Pairs: []certs.Pair{{CertFile: adminCert, KeyFile: adminKey}}, ClientCAFile: adminClientCA}
			case adminCert != "" || adminKey != "" || adminClientCA != "":
				return usageError{errors.New("--admin-tls-cert and --admin-tls-key go together (--admin-client-ca needs both)")}
			}
			opts.Version = version
			opts.ListenAddrs = map[string]string{}
			for _, l := range listen {
				name, addr, ok := strings.Cut(l, "=")
				if !ok || name == "" || addr == "" {
					return usageError{fmt.Errorf("--listen %q: want NAME=ADDR", l)}
				}
				opts.ListenAddrs[name] = addr
			}
			opts.AdminToken = os.Getenv("PORTCULLIS_ADMIN_TOKEN")
			if os.Getenv("GOGC") == "" {
				// The gateway's heap is small and short-lived: collecting at 4x
				// instead of 2x costs a few MB and saves CPU per request.
				debug.SetGCPercent(400)
			}
			opts.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
			if demoAt != "" {
				if err := startDemoUpstream(demoAt); err != nil {
					return err
				}
			}
			n, err := node.Start(opts)
			if err != nil {
				printProblems(err)
				return refusedError{err}
			}
			if demoAt != "" {
				fmt.Fprintf(os.Stderr, "\nPortcullis is running (demo upstream on %s). Try:\n", demoAt)
				for _, line := range demo.CurlLines(n.Snapshot().Policy, n.ListenerAddrs()) {
					fmt.Fprintln(os.Stderr, "  "+line)
				}
				fmt.Fprintf(os.Stderr, "Admin API on %s (token in PORTCULLIS_ADMIN_TOKEN or the token file logged above). Ctrl-C stops.\n\n", n.AdminAddr())
			}
			return n.Run(context.Background())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.ConfigPath, "config", "", "a YAML manifest file or a folder of them (required)")
	f.StringVar(&opts.StoreURL, "store", "sqlite:portcullis.db", "the policy store")
	f.StringVar(&redis, "redis", "", "Redis URL for cluster-wide counters")
	f.StringVar(&opts.AdminAddr, "admin", "127.0.0.1:9901", "the admin API's address")
	f.StringArrayVar(&listen, "listen", nil, "NAME=ADDR: bind listener NAME at ADDR on this node (repeatable)")
	f.DurationVar(&opts.AuditRetention, "audit-retention", 30*24*time.Hour, "how long audit records are kept (0 keeps them forever)")
	f.BoolFunc("audit", "record every call in the audit trail (default true; --audit=false only to measure its cost)", func(v string) error {
		on, err := strconv.ParseBool(v)
		opts.NoAudit = !on
		return err
	})
	f.StringVar(&adminCert, "admin-tls-cert", "", "serve the admin API over TLS with this certificate (PEM; reloaded when it changes)")
	f.StringVar(&adminKey, "admin-tls-key", "", "the admin certificate's private key (PEM)")
	f.StringVar(&adminClientCA, "admin-client-ca", "", "require admin clients to present a certificate of this CA (PEM)")
	f.StringVar(&demoAt, "demo-upstream", "", "also serve the built-in demo upstream at ADDR (for the quickstart)")
	return cmd
}

// startDemoUpstream serves the quickstart's echo upstream in the background.
func startDemoUpstream(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo upstream: %w", err)
	}
	srv := &http.Server{Handler: demo.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return nil
}
