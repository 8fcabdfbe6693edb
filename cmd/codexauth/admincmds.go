package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/codexauth/codexauth/harness"
	"github.com/codexauth/codexauth/harness/report"
	"github.com/codexauth/codexauth/harness/wire"
	"github.com/codexauth/codexauth/issuer/issuertest"
)

// adminFlags are shared by the commands that drive a running issuer.
type adminFlags struct{ issuer, token string }

func (a *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.issuer, "issuer", "http://127.0.0.1:8765", "base URL of the running codexauth issuer")
	fs.StringVar(&a.token, "admin-token", "", "its admin token (serve --admin-token)")
}

func (a *adminFlags) client(stderr io.Writer, cmd string) (*harness.Admin, bool) {
	if a.token == "" {
		fmt.Fprintf(stderr, "codexauth %s: --admin-token (or CODEXAUTH_ADMIN_TOKEN) is required\n", cmd)
		return nil, false
	}
	return harness.NewAdmin(strings.TrimRight(a.issuer, "/"), a.token), true
}

// adminCmd parses the flags of a command that drives a running issuer's
// admin API: the shared --issuer/--admin-token, those define adds, and the
// named required ones. It returns the admin client, or the exit code.
func adminCmd(name, synopsis string, args []string, stderr io.Writer, define func(fs *flag.FlagSet), required map[string]*string) (*harness.Admin, int, bool) {
	fs := newFlagSet(name, synopsis, stderr)
	var a adminFlags
	a.register(fs)
	if define != nil {
		define(fs)
	}
	if code, ok := parseOrHelp(fs, args, stderr, name); !ok {
		return nil, code, false
	}
	for flagName, v := range required {
		if *v == "" {
			fmt.Fprintf(stderr, "codexauth %s: --%s is required\n", name, flagName)
			return nil, report.ExitUsage, false
		}
	}
	admin, ok := a.client(stderr, name)
	if !ok {
		return nil, report.ExitUsage, false
	}
	return admin, 0, true
}

func parseOrHelp(fs *flag.FlagSet, args []string, stderr io.Writer, name string) (int, bool) {
	if err := parseFlags(fs, args); err != nil {
		return flagFailure(stderr, name, err), false
	}
	return 0, true
}

const mintSynopsis = `Mints credentials through a running issuer's admin API.

  codexauth mint auth-json --issuer URL --admin-token T --user U [--client-id ID] > "$CODEX_HOME/auth.json"

signs U in without any flow and prints an auth.json exactly as codex 0.169.0 writes it after a login
(mode chatgpt, the three tokens, account_id, oauth_provenance pointing at URL, so codex refreshes there).

  codexauth mint personal-access-token --issuer URL --admin-token T --user U

prints an "at-…" token for  codex login --with-access-token  (CODEX_AUTHAPI_BASE_URL=URL/api/accounts).

  codexauth mint agent-identity --issuer URL --admin-token T --user U [--runtime-id ID]

prints the agent identity JWT (RS256, kid, iss https://chatgpt.com/codex-backend/agent-identity,
aud codex-app-server, with its Ed25519 private key) as the last line of stdout. Use it with codex:

  CODEX_ACCESS_TOKEN=<jwt> CODEX_AGENT_IDENTITY_JWKS_BASE_URL=URL/backend-api \
  CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL=URL/api/accounts codex -c chatgpt_base_url="URL/backend-api" login status`

// subcommand checks that args start with want; otherwise it prints help
// (asked for) or usage (exit 2) and reports done.
func subcommand(args []string, name, want, synopsis string, stdout, stderr io.Writer) (code int, done bool) {
	if len(args) > 0 && args[0] == want {
		return 0, false
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stdout, synopsis)
		return report.ExitOK, true
	}
	fmt.Fprintf(stderr, "codexauth %s: expected %q\n\n%s\n", name, want, synopsis)
	return report.ExitUsage, true
}

func runMint(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "auth-json" {
		return runMintAuthJSON(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "personal-access-token" {
		return runMintPAT(ctx, args[1:], stdout, stderr)
	}
	if code, done := subcommand(args, "mint", "agent-identity", mintSynopsis, stdout, stderr); done {
		return code
	}
	var user, rid string
	admin, code, ok := adminCmd("mint agent-identity", mintSynopsis, args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "user the identity acts for")
		fs.StringVar(&rid, "runtime-id", "", "agent runtime id (default: generated)")
	}, map[string]*string{"user": &user})
	if !ok {
		return code
	}
	jwt, err := admin.MintAgentIdentity(ctx, user, rid)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth mint: %v\n", err)
		return report.ExitRuntime
	}
	id, _ := wire.ParseAgentIdentity(jwt)
	fmt.Fprintf(stderr, "agent identity %s for %s (revoke: codexauth revoke agent-identity --runtime-id %s)\n", id.RuntimeID, user, id.RuntimeID)
	fmt.Fprintln(stdout, jwt)
	return report.ExitOK
}

const revokeSynopsis = `Revokes through a running issuer's admin API; takes effect at once.

  codexauth revoke agent-identity --issuer URL --admin-token T --runtime-id ID`

func runRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, done := subcommand(args, "revoke", "agent-identity", revokeSynopsis, stdout, stderr); done {
		return code
	}
	var rid string
	admin, code, ok := adminCmd("revoke agent-identity", revokeSynopsis, args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&rid, "runtime-id", "", "agent runtime id to revoke")
	}, map[string]*string{"runtime-id": &rid})
	if !ok {
		return code
	}
	if err := admin.RevokeAgentIdentity(ctx, rid); err != nil {
		fmt.Fprintf(stderr, "codexauth revoke: %v\n", err)
		return report.ExitRuntime
	}
	fmt.Fprintf(stdout, "revoked agent identity %s\n", rid)
	return report.ExitOK
}

const keysSynopsis = `Manages a running issuer's signing keys.

  codexauth keys rotate --issuer URL --admin-token T

makes a new active RS256 key; the old one stays in both JWKS documents until every token it
signed has expired. Prints the new kid.`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, done := subcommand(args, "keys", "rotate", keysSynopsis, stdout, stderr); done {
		return code
	}
	admin, code, ok := adminCmd("keys rotate", keysSynopsis, args[1:], stderr, nil, nil)
	if !ok {
		return code
	}
	kid, err := admin.RotateKeys(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth keys rotate: %v\n", err)
		return report.ExitRuntime
	}
	fmt.Fprintf(stdout, "new signing key %s\n", kid)
	return report.ExitOK
}

const approveSynopsis = `A reference --approver exec command for the codexauth issuer: reads one JSON object on stdin
and completes it through the issuer's admin API, as the end user would.

  {"action":"approve-device","user_code":"BCDF-GHJK","user":"alice"}   approve a device code
  {"action":"deny-device","user_code":"BCDF-GHJK"}                      deny it
  {"action":"authorize","url":"<authorize URL>","user":"alice"}         print the redirect the browser would follow

  codexauth conform --issuer URL --approver exec \
    --approver-command "codexauth approve --issuer URL --admin-token T"

Write your own for other issuers: same stdin, print the redirect for authorize, exit non-zero on
failure, exit 3 for an action you do not support.`

func runApprove(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	admin, code, ok := adminCmd("approve", approveSynopsis, args, stderr, nil, nil)
	if !ok {
		return code
	}
	var in struct {
		Action, UserCode, URL, User string
	}
	dec := json.NewDecoder(os.Stdin)
	var raw map[string]string
	if err := dec.Decode(&raw); err != nil {
		fmt.Fprintf(stderr, "codexauth approve: stdin is not a JSON object: %v\n", err)
		return report.ExitUsage
	}
	in.Action, in.UserCode, in.URL, in.User = raw["action"], raw["user_code"], raw["url"], raw["user"]
	if in.User == "" {
		in.User = "alice"
	}
	var err error
	switch in.Action {
	case "approve-device":
		err = admin.ApproveDevice(ctx, in.UserCode, in.User)
	case "deny-device":
		err = admin.DenyDevice(ctx, in.UserCode)
	case "authorize":
		var loc string
		if loc, err = admin.Authorize(ctx, in.URL, in.User); err == nil {
			fmt.Fprintln(stdout, loc)
		}
	default:
		fmt.Fprintf(stderr, "codexauth approve: unsupported action %q\n", in.Action)
		return harness.ExecUnsupported
	}
	if err != nil {
		fmt.Fprintf(stderr, "codexauth approve: %s: %v\n", in.Action, err)
		return report.ExitFailed
	}
	return report.ExitOK
}

func runMintAuthJSON(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var user, clientID, issuerURL string
	admin, code, ok := adminCmd("mint auth-json", mintSynopsis, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "user to sign in")
		fs.StringVar(&clientID, "client-id", wire.CodexClientID, "client id (codex's by default)")
	}, map[string]*string{"user": &user})
	if !ok {
		return code
	}
	issuerURL = admin.Issuer()
	toks, err := admin.MintTokens(ctx, user, clientID)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth mint auth-json: %v\n", err)
		return report.ExitRuntime
	}
	b, err := issuertest.AuthJSON(issuertest.Tokens{IDToken: toks.IDToken, AccessToken: toks.AccessToken, RefreshToken: toks.RefreshToken},
		issuerURL, clientID, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "codexauth mint auth-json: %v\n", err)
		return report.ExitRuntime
	}
	fmt.Fprintln(stdout, string(b))
	return report.ExitOK
}

func runMintPAT(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var user string
	admin, code, ok := adminCmd("mint personal-access-token", mintSynopsis, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "user the token belongs to")
	}, map[string]*string{"user": &user})
	if !ok {
		return code
	}
	tok, err := admin.MintPAT(ctx, user)
	if err != nil {
		fmt.Fprintf(stderr, "codexauth mint personal-access-token: %v\n", err)
		return report.ExitRuntime
	}
	fmt.Fprintln(stdout, tok)
	return report.ExitOK
}
