package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/gomega"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/codexcli"
	"github.com/codexauth/codexauth/harness/registry"
	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/internal/builtin"
	"github.com/codexauth/codexauth/specs"
)

var conformSynopsis = fmt.Sprintf(`Runs the conformance suite: replays what codex %s does against an issuer and reports,
requirement by requirement, whether codex users would succeed there. The codex-cli profile runs the
real codex: the pinned release, or any other with --codex-version (or --codex-bin); the console,
the failures and the report name the version that ran.

Without --issuer it tests the built-in reference issuer (in-process, admin API on). Specs whose
capability the target lacks (clock control, an approver that can deny, …) are reported "not run"
with the reason, never passed.

%s

Examples:
  codexauth conform
  codexauth conform --profile codex-cli --codex-version 0.171.0
  codexauth conform --issuer https://auth.example.com --approver exec --approver-command ./approve.sh
  codexauth conform --issuer http://127.0.0.1:8765 --admin-token $T --profile core --profile reuse`, codexcli.Version, report.ExitCodeHelp())

type conformFlags struct {
	issuer, approver, approverCmd, adminToken, clientID, user, password string
	junit, jsonOut, report, outDir, waivers, validateURL, secret        string
	html, rerun                                                         string
	codexBin, codexVersion, pat, wifAssertion, wifRule                  string
	refreshURL, revokeURL, authAPIBase, chatgptBase, caCert             string
	agentIdentities                                                     multiFlag
	profiles, faults, dockerEnv                                         multiFlag
	dockerImage, dockerPort, dockerCmd, dockerPath                      string
	maxWait, accessTTL, reuseGrace                                      time.Duration
	timeout, requestTimeout                                             time.Duration
	strict, quiet, noCodex, list                                        bool
	only                                                                multiFlag
}

func runConform(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("conform", conformSynopsis, stderr)
	var f conformFlags
	fs.StringVar(&f.issuer, "issuer", "", "issuer base URL to test (default: the built-in reference issuer)")
	fs.StringVar(&f.approver, "approver", "", "how the end user approves: auto (the issuer approves by itself), admin (admin API), form (login and approval pages), exec (a command); default admin with --admin-token, else auto")
	fs.StringVar(&f.approverCmd, "approver-command", "", "command for --approver exec: receives one JSON object on stdin; for authorize it prints the final redirect URL")
	fs.StringVar(&f.adminToken, "admin-token", "", "bearer token of the target's /__admin API (enables clock control, faults, approvals)")
	fs.StringVar(&f.clientID, "client-id", wire.CodexClientID, "client id to send (codex's --experimental_client-id)")
	fs.StringVar(&f.user, "user", "alice", "user the approver signs in as")
	fs.StringVar(&f.password, "password", "", "password of --user for --approver form")
	fs.Var(&f.profiles, "profile", "profile to run and require (repeatable): "+registry.ProfileNames()+"; default: run all, require core")
	fs.StringVar(&f.outDir, "out", "codexauth-conformance", "folder for the reports not given a path of their own")
	fs.StringVar(&f.junit, "junit", "", "JUnit XML report path (default OUT/junit.xml)")
	fs.StringVar(&f.jsonOut, "json", "", "Ginkgo JSON report path (default OUT/ginkgo.json)")
	fs.StringVar(&f.report, "report", "", "conformance report path, YAML (default OUT/conformance.yaml)")
	fs.StringVar(&f.html, "html", "", "self-contained HTML report with each requirement's evidence (default OUT/conformance.html)")
	fs.StringVar(&f.rerun, "rerun", "", "a conformance.yaml of an earlier run: run only its failed and blocked requirements, against the same target unless --issuer says otherwise")
	fs.StringVar(&f.waivers, "waivers", "", "YAML file of waived requirement ids, each with a reason")
	fs.DurationVar(&f.maxWait, "max-wait", 10*time.Second, "longest real wait for expiry on targets without clock control")
	fs.DurationVar(&f.accessTTL, "access-ttl", 0, "declare the target's access-token lifetime (lets exp-driven specs wait for real expiry)")
	fs.StringVar(&f.validateURL, "validate-url", "", "the deployment's validate endpoint (default with --internal-secret: ISSUER/internal/codex-auth/validate)")
	fs.StringVar(&f.secret, "internal-secret", "", "X-Internal-Secret for --validate-url")
	fs.StringVar(&f.wifAssertion, "workload-assertion", "", "file with a workload identity token of the deployment's identity provider, for the workload profile")
	fs.StringVar(&f.wifRule, "federation-rule-id", "", "federation rule that admits --workload-assertion")
	fs.StringVar(&f.pat, "personal-access-token", "", "file with a personal access token (at-…) of the deployment, for the pat profile")
	fs.Var(&f.agentIdentities, "agent-identity", "file with an agent identity JWT minted by the deployment, with its private key (repeatable: specs about two agents need two)")
	fs.StringVar(&f.refreshURL, "refresh-url", "", "where codex refreshes (CODEX_REFRESH_TOKEN_URL_OVERRIDE; default ISSUER/oauth/token)")
	fs.StringVar(&f.revokeURL, "revoke-url", "", "where codex revokes at logout (CODEX_REVOKE_TOKEN_URL_OVERRIDE; default ISSUER/oauth/revoke)")
	fs.StringVar(&f.authAPIBase, "authapi-base-url", "", "the auth API for whoami and agent task registration (CODEX_AUTHAPI_BASE_URL, CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL; default ISSUER/api/accounts)")
	fs.StringVar(&f.chatgptBase, "chatgpt-base-url", "", "codex's chatgpt_base_url: agent-identity JWKS and accounts check (also CODEX_AGENT_IDENTITY_JWKS_BASE_URL; default ISSUER/backend-api)")
	fs.StringVar(&f.caCert, "ca-cert", "", "PEM file of a private CA the deployment's TLS certificates chain to (trusted by the suite and, as CODEX_CA_CERTIFICATE, by the real codex)")
	fs.StringVar(&f.codexBin, "codex-bin", "", "real codex binary for the codex-cli profile (default: CODEXAUTH_CODEX_BIN or the install cache)")
	fs.StringVar(&f.codexVersion, "codex-version", "", "run the codex-cli profile with this @openai/codex release, e.g. 0.171.0, installed into the install cache when missing (wins over --codex-bin and CODEXAUTH_CODEX_BIN; default: the pinned "+codexcli.Version+")")
	fs.BoolVar(&f.noCodex, "no-codex", false, "do not look for the real codex binary (codex-cli specs are then not run)")
	fs.BoolVar(&f.strict, "strict", false, "SHOULD failures fail the run too")
	fs.BoolVar(&f.list, "list", false, "list the requirements (id, level, profile, title) and exit")
	fs.Var(&f.only, "only", "run only this requirement id (repeatable), e.g. --only CDX-REFRESH-006")
	fs.BoolVar(&f.quiet, "quiet", false, "no per-spec progress lines")
	fs.StringVar(&f.dockerImage, "docker-image", "", "start the issuer from this image (needs a Docker engine; the codexauth image needs no more flags); in --docker-env/--docker-cmd {{issuer}} becomes its URL, {{addr}} and {{port}} where it must listen")
	fs.StringVar(&f.dockerPort, "docker-port", "8765/tcp", "container port the image's issuer listens on")
	fs.Var(&f.dockerEnv, "docker-env", "KEY=VALUE for the container (repeatable), e.g. CODEXAUTH_PUBLIC_URL={{issuer}}")
	fs.StringVar(&f.dockerCmd, "docker-cmd", "", "command for the container, space-separated")
	fs.StringVar(&f.dockerPath, "docker-path", "", "path prefix of the issuer inside the container's URL")
	fs.Var(&f.faults, "fault", "built-in target only: switch on a fault of the catalogue (self-test)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "deadline of the whole run: a spec still running then is interrupted, the rest are not run, and the reports are written")
	fs.DurationVar(&f.requestTimeout, "request-timeout", wire.DefaultRequestTimeout, "deadline of each request to the issuer, headers and body (an issuer that never answers discovery within it is a runtime error, exit 3)")
	fs.DurationVar(&f.reuseGrace, "builtin-reuse-grace", builtinGrace, "built-in target only: reuse grace window (with one, every reuse spec can run: the clock moves past it where needed; 0s tests the strict path)")
	if err := parseFlags(fs, args); err != nil {
		return flagFailure(stderr, "conform", err)
	}
	if f.rerun != "" {
		ids, issuer, image, err := rerunSelection(f.rerun)
		if err != nil {
			fmt.Fprintf(stderr, "codexauth conform: --rerun: %v\n", err)
			return report.ExitUsage
		}
		if len(ids) == 0 {
			fmt.Fprintf(stdout, "codexauth conform: %s has no failed or blocked requirement: nothing to rerun\n", f.rerun)
			return report.ExitOK
		}
		f.only = append(f.only, ids...)
		if f.issuer == "" && f.dockerImage == "" {
			f.issuer, f.dockerImage = issuer, image
		}
		fmt.Fprintf(stdout, "rerunning %d failed or blocked requirements of %s (give its other flags — approver, admin token, endpoints — again)\n", len(ids), f.rerun)
	}
	if f.list {
		for _, r := range registry.Requirements {
			if len(f.profiles) == 0 || slices.Contains(f.profiles, string(r.Profile)) {
				fmt.Fprintf(stdout, "%-16s %-6s %-15s %s\n", r.ID, r.Level, r.Profile, r.Title)
			}
		}
		return report.ExitOK
	}
	for _, id := range f.only {
		if _, ok := registry.Lookup(id); !ok {
			fmt.Fprintf(stderr, "codexauth conform: --only %q is not a requirement id (see --list)\n", id)
			return report.ExitUsage
		}
	}
	var profiles []registry.Profile
	for _, name := range f.profiles {
		p, ok := registry.ParseProfile(name)
		if !ok {
			fmt.Fprintf(stderr, "codexauth conform: unknown --profile %q (known: %s)\n", name, registry.ProfileNames())
			return report.ExitUsage
		}
		profiles = append(profiles, p)
	}
	if f.timeout <= 0 || f.requestTimeout <= 0 {
		fmt.Fprintln(stderr, "codexauth conform: --timeout and --request-timeout must be positive")
		return report.ExitUsage
	}
	runStart := time.Now()
	ctx, cancelRun := context.WithTimeout(ctx, f.timeout)
	defer cancelRun()
	if f.issuer != "" && len(f.faults) > 0 {
		fmt.Fprintln(stderr, "codexauth conform: --fault applies to the built-in issuer only; switch faults on a remote reference issuer with its admin API")
		return report.ExitUsage
	}
	var waivers []report.Waiver
	if f.waivers != "" {
		w, err := report.LoadWaivers(f.waivers)
		if err != nil {
			fmt.Fprintf(stderr, "codexauth conform: %v\n", err)
			return report.ExitUsage
		}
		waivers = w
	}
	cfg := harness.Config{Builtin: builtin.Start, Issuer: f.issuer, ClientID: f.clientID, AdminToken: f.adminToken, Approver: f.approver,
		User: f.user, Password: f.password, MaxWait: f.maxWait, AccessTTL: f.accessTTL, ValidateURL: f.validateURL,
		InternalSecret: f.secret, BuiltinFaults: f.faults, BuiltinReuseGrace: f.reuseGrace,
		Docker: harness.DockerTarget{Image: f.dockerImage, Port: f.dockerPort, Env: f.dockerEnv, Cmd: strings.Fields(f.dockerCmd), Path: f.dockerPath}}
	cfg.RequestTimeout = f.requestTimeout
	if f.validateURL == "" && f.secret != "" && f.issuer != "" {
		cfg.ValidateURL = strings.TrimRight(f.issuer, "/") + "/internal/codex-auth/validate"
	}
	if f.approverCmd != "" {
		cfg.ApproverCommand = []string{"sh", "-c", f.approverCmd} // quotes and pipes work as in a shell
	}
	// Credentials of the deployment come from files (never from flags,
	// which would put them in the process list).
	for _, c := range []struct {
		flag, path string
		dst        *string
	}{
		{"workload-assertion", f.wifAssertion, &cfg.WorkloadAssertion},
		{"personal-access-token", f.pat, &cfg.PersonalAccessToken},
	} {
		if c.path == "" {
			continue
		}
		b, err := os.ReadFile(c.path)
		if err != nil {
			fmt.Fprintf(stderr, "codexauth conform: --%s: %v\n", c.flag, err)
			return report.ExitUsage
		}
		*c.dst = strings.TrimSpace(string(b))
	}
	cfg.FederationRuleID = f.wifRule
	for _, path := range f.agentIdentities {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "codexauth conform: --agent-identity: %v\n", err)
			return report.ExitUsage
		}
		cfg.AgentIdentities = append(cfg.AgentIdentities, strings.TrimSpace(string(b)))
	}
	cfg.Endpoints = wire.Endpoints{RefreshURL: f.refreshURL, RevokeURL: f.revokeURL, AuthAPIBase: f.authAPIBase, ChatGPTBase: f.chatgptBase}
	if f.caCert != "" {
		if _, err := os.Stat(f.caCert); err != nil {
			fmt.Fprintf(stderr, "codexauth conform: --ca-cert: %v\n", err)
			return report.ExitUsage
		}
		cfg.CACert = f.caCert
	}
	if !f.noCodex {
		switch {
		case f.codexVersion != "":
			bin, err := resolveCodex(ctx, "", f.codexVersion, stderr)
			if err != nil {
				fmt.Fprintf(stderr, "codexauth conform: --codex-version: %v\n", err)
				return report.ExitUsage
			}
			cfg.CodexBin = bin
		default:
			if bin, err := codexcli.Find(f.codexBin); err == nil {
				cfg.CodexBin = bin
			} else if f.codexBin != "" {
				fmt.Fprintf(stderr, "codexauth conform: %v\n", err)
				return report.ExitUsage
			}
		}
	}
	if f.noCodex && f.codexVersion != "" {
		if !codexcli.ValidVersion(f.codexVersion) {
			fmt.Fprintf(stderr, "codexauth conform: --codex-version %q: want an exact version such as %s\n", f.codexVersion, codexcli.Version)
			return report.ExitUsage
		}
		cfg.CodexVersion = f.codexVersion // speak as that codex without running it
	}
	if cfg.CodexBin != "" {
		v, err := codexcli.BinaryVersion(ctx, cfg.CodexBin)
		if err != nil {
			fmt.Fprintf(stderr, "codexauth conform: the codex binary: %v\n", err)
			return report.ExitUsage
		}
		cfg.CodexVersion = v
	}
	// Open the target up front, once: configuration and reachability errors
	// get their own exit codes instead of a hundred failed specs, and the
	// specs test this very target (a built-in issuer or container is not
	// started twice).
	target, err := harness.Open(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth conform: %v\n", err)
		var rerr *harness.RuntimeError
		if errors.As(err, &rerr) {
			return report.ExitRuntime
		}
		return report.ExitUsage
	}
	name, url, targetVersion := target.Name, target.Issuer, target.Version
	approver := target.Approver.Name()
	caps := map[string]string{}
	for c, why := range target.Capabilities() {
		if why == "" {
			why = "available"
		}
		caps[string(c)] = why
	}

	paths := map[string]*string{"junit.xml": &f.junit, "ginkgo.json": &f.jsonOut, "conformance.yaml": &f.report, "conformance.html": &f.html}
	for def, p := range paths {
		if *p == "" {
			*p = filepath.Join(f.outDir, def)
		}
		if err := os.MkdirAll(filepath.Dir(*p), 0o755); err != nil {
			fmt.Fprintf(stderr, "codexauth conform: %v\n", err)
			return report.ExitUsage
		}
	}
	required := profiles
	if len(required) == 0 {
		required = []registry.Profile{registry.ProfileCore}
	}
	fmt.Fprintf(stdout, "codexauth conform %s — testing %s (%s)\napprover: %s; profiles: %s; required: %s\n%s\n\n",
		version, name, url, approver, profileList(profiles), profileList(required), codexLine(cfg))

	specs.UseTarget(target) // the suite closes it
	suiteCfg, repCfg := GinkgoConfiguration()
	suiteCfg.LabelFilter = specs.LabelFilter(profiles)
	if len(f.only) > 0 {
		ids := make([]string, len(f.only))
		for i, id := range f.only {
			ids[i] = "req:" + id
		}
		suiteCfg.LabelFilter = strings.Join(ids, " || ")
	}
	// What is left of --timeout; a spec that outlives it is interrupted (its
	// context is cancelled, which ends its requests) and given a short grace.
	suiteCfg.Timeout = max(f.timeout-time.Since(runStart), time.Second)
	// One order for every run: the same target judged twice is judged the
	// same way (what an interrupted run reached, which sign-ins fall in one
	// second), and a report can be reproduced.
	suiteCfg.RandomSeed = 1
	suiteCfg.GracePeriod = min(10*time.Second, f.requestTimeout)
	repCfg.NoColor, repCfg.Succinct, repCfg.SilenceSkips = true, true, true
	formatter.ColorableStdOut = io.Discard // our own progress and summary replace Ginkgo's console output
	total := countSelected(profiles)
	if len(f.only) > 0 {
		total = len(f.only)
	}
	if !f.quiet {
		specs.SetProgress(stdout, total)
	}
	gomega.RegisterFailHandler(Fail)
	start := time.Now()
	RunSpecs(failer{}, "codexauth conformance", suiteCfg, repCfg)
	rep := specs.LastReport()
	if rep == nil {
		fmt.Fprintln(stderr, "codexauth conform: the suite produced no report")
		return report.ExitRuntime
	}
	outcomes := specs.Outcomes(rep)
	if !rep.SuiteSucceeded && len(outcomes) == 0 {
		fmt.Fprintf(stderr, "codexauth conform: the suite did not run: %s\n", rep.SpecialSuiteFailureReasons)
		return report.ExitRuntime
	}
	outcomes = withUnreached(outcomes, selected(profiles, f.only), rep.SpecialSuiteFailureReasons)
	result := report.Evaluate(outcomes, required, waivers, f.strict)
	result.SuiteVersion = version
	result.Implementation = report.Implementation{Name: name, Version: targetVersion, URL: url}
	result.CodexVersion = cfg.CodexVersion
	result.Date = start.UTC()
	result.DurationSecs = time.Since(start).Seconds()
	result.Approver = approver
	result.Capabilities = caps
	result.AttachEvidence(specs.Evidence())
	if err := writeConformReports(target, *rep, &result, f, stdout); err != nil {
		fmt.Fprintf(stderr, "codexauth conform: %v\n", err)
		return report.ExitRuntime
	}
	ran := ""
	if cfg.CodexVersion != "" {
		ran = " with codex " + cfg.CodexVersion
	}
	fmt.Fprintf(stdout, "Ran %d requirements%s in %.1fs.\nReports: %s (readable, with evidence), %s (conformance), %s (JUnit), %s (Ginkgo JSON)\n",
		len(outcomes), ran, time.Since(start).Seconds(), f.html, f.report, f.junit, f.jsonOut)
	return result.ExitCode
}

// codexLine tells which real codex the codex-cli profile runs.
func codexLine(cfg harness.Config) string {
	switch {
	case cfg.CodexBin == "" && cfg.CodexVersion != "":
		return fmt.Sprintf("codex: speaking as %s, not running it (the codex-cli profile is not run)", cfg.CodexVersion)
	case cfg.CodexBin == "":
		return "codex: none (the codex-cli profile is not run; --codex-version V installs one)"
	case cfg.CodexVersion == codexcli.Version:
		return fmt.Sprintf("codex: %s, the pinned release (%s)", cfg.CodexVersion, cfg.CodexBin)
	}
	return fmt.Sprintf("codex: %s (%s); the contract describes %s, docs/codex-versions.md what differs", cfg.CodexVersion, cfg.CodexBin, codexcli.Version)
}

// failer is the GinkgoTestingT RunSpecs needs outside `go test`.
type failer struct{}

func (failer) Fail() {}

func profileList(ps []registry.Profile) string {
	if len(ps) == 0 {
		return "all"
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

func countSelected(profiles []registry.Profile) int { return len(selected(profiles, nil)) }

// selected lists the requirements a run selects: --only ids, else the
// profiles' (every profile when none is given).
func selected(profiles []registry.Profile, only []string) []registry.Requirement {
	var out []registry.Requirement
	for _, r := range registry.Requirements {
		if len(only) > 0 && !slices.Contains(only, r.ID) || len(only) == 0 && len(profiles) > 0 && !slices.Contains(profiles, r.Profile) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// withUnreached adds every selected requirement the run never reached (a
// --timeout, an interrupt) as not run, so an interrupted run is never
// judged on the specs it happened to finish.
func withUnreached(outcomes []report.Outcome, sel []registry.Requirement, why []string) []report.Outcome {
	seen := map[string]bool{}
	for _, o := range outcomes {
		seen[o.ID] = true
	}
	reason := "not reached: the run ended first"
	if len(why) > 0 {
		reason += " (" + strings.Join(why, "; ") + ")"
	}
	for _, r := range sel {
		if !seen[r.ID] {
			outcomes = append(outcomes, report.Outcome{ID: r.ID, Title: r.Title, Level: r.Level, Profile: r.Profile,
				Section: r.Section, State: report.NotRun, Reason: reason})
		}
	}
	return outcomes
}
