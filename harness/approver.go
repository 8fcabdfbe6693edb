package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// ErrUnsupported means an approver cannot perform an action; specs that
// need it are reported as not run.
var ErrUnsupported = errors.New("not supported by this approver")

// ExecUnsupported is the exit code by which an --approver-command says it
// cannot perform the action it was given (ErrUnsupported).
const ExecUnsupported = 3

// Approver plays the end user: approving or denying device codes and
// completing authorize URLs in a "browser".
type Approver interface {
	Name() string
	// ApproveDevice approves userCode (shown at verificationURL).
	ApproveDevice(ctx context.Context, userCode, verificationURL string) error
	// DenyDevice denies userCode.
	DenyDevice(ctx context.Context, userCode, verificationURL string) error
	// Authorize completes authorizeURL and returns the redirect location
	// aimed at redirectURI.
	Authorize(ctx context.Context, authorizeURL, redirectURI string) (string, error)
	// Can reports which of "approve", "deny", "authorize" it supports.
	Can(action string) bool
}

// AutoApprover is for issuers that approve by themselves (mock mode):
// device codes need nothing, and the authorize URL redirects at once.
type AutoApprover struct{ HTTP *http.Client }

func (AutoApprover) Name() string                                        { return "auto" }
func (AutoApprover) Can(a string) bool                                   { return a == "approve" || a == "authorize" }
func (AutoApprover) ApproveDevice(context.Context, string, string) error { return nil }
func (AutoApprover) DenyDevice(context.Context, string, string) error    { return ErrUnsupported }

// Authorize follows redirects within the issuer until one leaves for redirectURI.
func (a AutoApprover) Authorize(ctx context.Context, authorizeURL, redirectURI string) (string, error) {
	return followUntil(ctx, a.HTTP, authorizeURL, redirectURI)
}

func followUntil(ctx context.Context, hc *http.Client, start, redirectURI string) (string, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	next := start
	for i := 0; i < 10; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return "", err
		}
		res, err := c.Do(req)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		loc := res.Header.Get("Location")
		if res.StatusCode/100 != 3 || loc == "" {
			return "", fmt.Errorf("authorize stopped at %d without redirecting to %s (a page needs a user: use --approver admin, form or exec): %.200s", res.StatusCode, redirectURI, body)
		}
		u, err := req.URL.Parse(loc)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(u.String(), redirectURI) {
			return u.String(), nil
		}
		next = u.String()
	}
	return "", fmt.Errorf("too many redirects before reaching %s", redirectURI)
}

// AdminApprover uses the reference issuer's admin API.
type AdminApprover struct {
	Admin *Admin
	User  string
}

func (a AdminApprover) Name() string  { return "admin" }
func (AdminApprover) Can(string) bool { return true }
func (a AdminApprover) ApproveDevice(ctx context.Context, code, _ string) error {
	return a.Admin.ApproveDevice(ctx, code, a.User)
}
func (a AdminApprover) DenyDevice(ctx context.Context, code, _ string) error {
	return a.Admin.DenyDevice(ctx, code)
}
func (a AdminApprover) Authorize(ctx context.Context, authorizeURL, _ string) (string, error) {
	return a.Admin.Authorize(ctx, authorizeURL, a.User)
}

// FormApprover drives the issuer's HTML pages with a cookie jar: the
// login form, the verification page's approve/deny buttons, and the
// authorize redirect with the session. It fits the reference issuer's
// pages and any issuer whose forms use the same field names.
type FormApprover struct {
	Issuer, User, Password string
	// Transport carries the requests (nil: the default); it trusts the
	// target's private CA when one is configured.
	Transport http.RoundTripper
	http      *http.Client
}

func (f *FormApprover) Name() string  { return "form" }
func (*FormApprover) Can(string) bool { return true }

func (f *FormApprover) client() *http.Client {
	if f.http == nil {
		jar, _ := cookiejar.New(nil)
		f.http = &http.Client{Jar: jar, Timeout: 15 * time.Second, Transport: f.Transport}
	}
	return f.http
}

var (
	csrfField  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

func (f *FormApprover) get(ctx context.Context, u string) (*http.Response, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	return f.do(req)
}

// do sends req and reads the page it answers (up to 1 MiB).
func (f *FormApprover) do(req *http.Request) (*http.Response, string, error) {
	res, err := f.client().Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res, string(b), nil
}

func (f *FormApprover) post(ctx context.Context, page *http.Response, body string, fields url.Values) (*http.Response, string, error) {
	m := csrfField.FindStringSubmatch(body)
	a := formAction.FindStringSubmatch(body)
	if m == nil || a == nil {
		return nil, "", fmt.Errorf("no form with a CSRF token on %s", page.Request.URL)
	}
	fields.Set("csrf", html.UnescapeString(m[1]))
	target, err := page.Request.URL.Parse(html.UnescapeString(a[1]))
	if err != nil {
		return nil, "", err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.do(req)
}

// page fetches u, signing in through the login form when redirected there.
func (f *FormApprover) page(ctx context.Context, u string) (*http.Response, string, error) {
	res, body, err := f.get(ctx, u)
	if err != nil {
		return nil, "", err
	}
	if strings.Contains(res.Request.URL.Path, "/login") {
		res, body, err = f.post(ctx, res, body, url.Values{"username": {f.User}, "password": {f.Password},
			"return_to": {res.Request.URL.Query().Get("return_to")}})
		if err != nil {
			return nil, "", fmt.Errorf("login form: %w", err)
		}
		if res.StatusCode != http.StatusOK {
			return nil, "", fmt.Errorf("login as %s failed: %d", f.User, res.StatusCode)
		}
	}
	return res, body, nil
}

func (f *FormApprover) decide(ctx context.Context, code, verificationURL, action string) error {
	if verificationURL == "" {
		verificationURL = strings.TrimRight(f.Issuer, "/") + "/codex/device"
	}
	res, body, err := f.page(ctx, verificationURL+"?user_code="+url.QueryEscape(code))
	if err != nil {
		return err
	}
	if !strings.Contains(body, `value="approve"`) {
		return fmt.Errorf("verification page for %s shows no approval form (%d)", code, res.StatusCode)
	}
	res, _, err = f.post(ctx, res, body, url.Values{"user_code": {code}, "action": {action}})
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s of %s answered %d", action, code, res.StatusCode)
	}
	return nil
}

func (f *FormApprover) ApproveDevice(ctx context.Context, code, vu string) error {
	return f.decide(ctx, code, vu, "approve")
}
func (f *FormApprover) DenyDevice(ctx context.Context, code, vu string) error {
	return f.decide(ctx, code, vu, "deny")
}

// Authorize signs in if needed and follows the authorize redirects.
func (f *FormApprover) Authorize(ctx context.Context, authorizeURL, redirectURI string) (string, error) {
	c := *f.client()
	stop := errors.New("stop")
	var location string
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			location = req.URL.String()
			return stop
		}
		return nil
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	res, err := c.Do(req)
	if location != "" {
		return location, nil
	}
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if strings.Contains(res.Request.URL.Path, "/login") {
		f.http = &c
		_, _, err := f.post(ctx, res, string(body), url.Values{"username": {f.User}, "password": {f.Password},
			"return_to": {res.Request.URL.Query().Get("return_to")}})
		if location != "" {
			return location, nil
		}
		if err != nil && !errors.Is(err, stop) {
			return "", err
		}
	}
	if location == "" {
		return "", fmt.Errorf("authorize ended at %s (%d) without redirecting to %s", res.Request.URL, res.StatusCode, redirectURI)
	}
	return location, nil
}

// ExecApprover hands each action to a command as one JSON object on stdin:
// {"action":"approve-device"|"deny-device","user_code","verification_url","user"}
// or {"action":"authorize","url","redirect_uri","user"}; for authorize the
// command prints the final redirect URL as its last stdout line. A non-zero
// exit is a failure; exit ExecUnsupported (3) means "not supported".
type ExecApprover struct {
	Command []string
	User    string
}

func (e ExecApprover) Name() string  { return "exec" }
func (ExecApprover) Can(string) bool { return true }

func (e ExecApprover) run(ctx context.Context, in map[string]string) (string, error) {
	in["user"] = e.User
	b, _ := json.Marshal(in)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.Command[0], e.Command[1:]...)
	cmd.Stdin = bytes.NewReader(b)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == ExecUnsupported {
			return "", ErrUnsupported
		}
		return "", fmt.Errorf("approver command %s: %v: %s", in["action"], err, strings.TrimSpace(errb.String()))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

func (e ExecApprover) ApproveDevice(ctx context.Context, code, vu string) error {
	_, err := e.run(ctx, map[string]string{"action": "approve-device", "user_code": code, "verification_url": vu})
	return err
}
func (e ExecApprover) DenyDevice(ctx context.Context, code, vu string) error {
	_, err := e.run(ctx, map[string]string{"action": "deny-device", "user_code": code, "verification_url": vu})
	return err
}
func (e ExecApprover) Authorize(ctx context.Context, u, redirectURI string) (string, error) {
	return e.run(ctx, map[string]string{"action": "authorize", "url": u, "redirect_uri": redirectURI})
}
