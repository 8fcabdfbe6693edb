// Command codexauth is the reference issuer for the OpenAI Codex CLI and
// the conformance harness that checks any issuer against codex's contract.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/codexauth/codexauth/harness/report"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the reference issuer", runServe},
		{"conform", "run the conformance suite against an issuer", runConform},
		{"selftest", "prove the suite catches every fault of the catalogue", runSelftest},
		{"capture", "record what a codex release sends and print its protocol drift from the pinned one", runCapture},
		{"mint", "mint credentials through a running issuer's admin API", runMint},
		{"approve", "reference --approver exec command: approve or authorize through the admin API", runApprove},
		{"revoke", "revoke an agent identity through a running issuer's admin API", runRevoke},
		{"keys", "manage a running issuer's signing keys", runKeys},
		{"proxy", "HTTPS proxy: codex's hosts (auth.openai.com, …) to a mock issuer, every other host refused", runProxy},
		{"health", "exit 0 when a running issuer's /healthz answers 200 (container health checks)", runHealth},
		{"version", "print the version", func(context.Context, []string, io.Writer, io.Writer) int { fmt.Println("codexauth", version); return 0 }},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "codexauth %s — reference issuer and conformance harness for the OpenAI Codex CLI sign-in protocol\n\nUsage: codexauth <command> [flags]\n\nCommands:\n", version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'codexauth <command> --help' for a command's flags. Every flag can also be set as CODEXAUTH_<FLAG> (e.g. CODEXAUTH_ADMIN_TOKEN).\n")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return report.ExitUsage
		}
		return report.ExitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "codexauth: unknown command %q\n\n", args[0])
	usage(stderr)
	return report.ExitUsage
}

// newFlagSet builds a flag set whose usage lists flags with their env names.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: codexauth %s [flags]\n\n%s\n\nFlags (each also read from CODEXAUTH_<FLAG>):\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags applies CODEXAUTH_* environment variables for flags not given
// on the command line, then parses args. Command-line flags win.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsageShown // the flag package already printed the error and the usage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := "CODEXAUTH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if m, ok := f.Value.(*multiFlag); ok {
				for _, part := range strings.Split(v, ",") {
					if part = strings.TrimSpace(part); part != "" {
						_ = m.Set(part)
					}
				}
				return
			}
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	return errors.Join(errs...)
}

// flagFailure turns a parseFlags error into an exit code: 0 for --help, 2
// otherwise (printing the error unless the flag package already did).
func flagFailure(stderr io.Writer, name string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return report.ExitOK
	}
	if !errors.Is(err, errUsageShown) {
		fmt.Fprintf(stderr, "codexauth %s: %v\n", name, err)
	}
	return report.ExitUsage
}

// errUsageShown reports a flag error the flag package has already printed.
var errUsageShown = errors.New("invalid flags")

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}
