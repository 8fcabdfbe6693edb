package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/codexauth/codexauth/issuer/oauth"
	"github.com/codexauth/codexauth/issuer/store"
)

// This file is the per-route rewriting seam of the fault catalogue
// (issuer/faults): every route is mounted through Server.router, which hands
// the request to the handler untouched unless a fault that rewrites that
// route is on. A route fault may refuse or edit the request before the
// handler sees it, and edit the status and JSON body of its answer.
// The rewrites themselves are in fault_rewrites.go.

// routeFault is how one fault changes the exchanges of some routes.
type routeFault struct {
	// routes are "METHOD /path" as mounted (admin routes under /__admin).
	routes []string
	// before runs ahead of the handler. It may edit the request, or answer
	// in the handler's stead and return true.
	before func(s *Server, x *exchange) (answered bool)
	// after edits the handler's answer.
	after func(s *Server, x *exchange)
}

// router returns a function that mounts a handler on r through the fault
// seam; prefix is where r itself is mounted.
func (s *Server) router(r chi.Router, prefix string) func(method, path string, h http.HandlerFunc) {
	return func(method, path string, h http.HandlerFunc) {
		r.Method(method, path, s.faultable(method+" "+prefix+path, h))
	}
}

// routeFaultNames indexes routeFaults by route, in name order.
var routeFaultNames = func() map[string][]string {
	idx := map[string][]string{}
	for _, name := range sortedKeys(routeFaults) {
		for _, rt := range routeFaults[name].routes {
			idx[rt] = append(idx[rt], name)
		}
	}
	return idx
}()

func (s *Server) faultable(route string, h http.HandlerFunc) http.HandlerFunc {
	names := routeFaultNames[route]
	if len(names) == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var on []routeFault
		for _, n := range names {
			if s.faults.Has(n) {
				on = append(on, routeFaults[n])
			}
		}
		if len(on) == 0 {
			h(w, r)
			return
		}
		s.serveWithFaults(w, r, h, on)
	}
}

// exchange is one request and the handler's answer, as route faults see
// them.
type exchange struct {
	w http.ResponseWriter
	r *http.Request
	// fields are the request body's fields (a JSON object of strings, or a
	// form); parsed says whether the body was one of those.
	fields       map[string]string
	parsed       bool
	isJSON       bool
	fieldsEdited bool
	// The handler's answer: status, headers, and the JSON object it carried
	// (nil for any other body, which then passes unchanged).
	status     int
	header     http.Header
	body       map[string]any
	raw        []byte
	bodyEdited bool
	// store is what the fault store saw during the request.
	store *storeObservation
}

func (s *Server) serveWithFaults(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, on []routeFault) {
	body, rerr := readBody(r)
	if rerr != nil {
		oauth.Write(w, rerr)
		return
	}
	obs := &storeObservation{}
	x := &exchange{w: w, r: r.WithContext(context.WithValue(r.Context(), observationKey{}, obs)), store: obs}
	x.readFields(body)
	for _, f := range on {
		if f.before != nil && f.before(s, x) {
			return
		}
	}
	if x.fieldsEdited {
		body = x.encodeFields()
	}
	x.r.Body = io.NopCloser(bytes.NewReader(body))
	x.r.ContentLength = int64(len(body))

	rec := &bufferedResponse{header: w.Header().Clone()}
	h(rec, x.r)
	x.status, x.header, x.raw = rec.status, rec.header, rec.buf.Bytes()
	if x.status == 0 {
		x.status = http.StatusOK
	}
	if mt, _, _ := mime.ParseMediaType(x.header.Get("Content-Type")); mt == "application/json" {
		_ = json.Unmarshal(x.raw, &x.body)
	}
	for _, f := range on {
		if f.after != nil {
			f.after(s, x)
		}
	}
	x.flush()
}

func (x *exchange) readFields(body []byte) {
	mt, _, _ := mime.ParseMediaType(x.r.Header.Get("Content-Type"))
	x.fields = map[string]string{}
	switch mt {
	case "application/json":
		x.isJSON = true
		if v, err := parseJSONObject(body); err == nil {
			x.fields, x.parsed = v, true
		}
	case "application/x-www-form-urlencoded":
		if q, err := url.ParseQuery(string(body)); err == nil {
			for k := range q {
				x.fields[k] = q.Get(k)
			}
			x.parsed = true
		}
	}
}

func (x *exchange) encodeFields() []byte {
	if x.isJSON {
		b, _ := json.Marshal(x.fields)
		return b
	}
	q := url.Values{}
	for k, v := range x.fields {
		q.Set(k, v)
	}
	return []byte(q.Encode())
}

// setField edits a request field (when the body could be parsed at all).
func (x *exchange) setField(k, v string) {
	if x.parsed {
		x.fields[k] = v
		x.fieldsEdited = true
	}
}

func (x *exchange) deleteField(k string) {
	if _, ok := x.fields[k]; ok && x.parsed {
		delete(x.fields, k)
		x.fieldsEdited = true
	}
}

func (x *exchange) grantType() string { return x.fields["grant_type"] }

// answer replies in the handler's stead (before the handler).
func (x *exchange) answer(e *oauth.Error) bool {
	oauth.Write(x.w, e)
	return true
}

// ok reports whether the handler answered 200 with a JSON object.
func (x *exchange) ok() bool { return x.status == http.StatusOK && x.body != nil }

// errorCode is the OAuth error code the handler answered, if any.
func (x *exchange) errorCode() string {
	code, _ := x.body["error"].(string)
	return code
}

func (x *exchange) set(k string, v any) {
	x.body[k] = v
	x.bodyEdited = true
}

func (x *exchange) delete(k string) {
	delete(x.body, k)
	x.bodyEdited = true
}

// replace swaps the handler's answer for e (after the handler).
func (x *exchange) replace(e *oauth.Error) {
	x.status = e.Status
	x.body = map[string]any{"error": e.Code, "error_description": e.Description}
	x.bodyEdited = true
	x.header.Set("Content-Type", "application/json")
	x.header.Set("Cache-Control", "no-store")
	x.header.Del("Retry-After")
	x.header.Del("WWW-Authenticate")
}

func (x *exchange) flush() {
	dst := x.w.Header()
	for k := range dst {
		delete(dst, k)
	}
	for k, v := range x.header {
		dst[k] = v
	}
	raw := x.raw
	if x.bodyEdited {
		raw, _ = json.Marshal(x.body)
		raw = append(raw, '\n')
	}
	dst.Del("Content-Length")
	x.w.WriteHeader(x.status)
	_, _ = x.w.Write(raw)
}

// An authorization request reaches the issuer through two doors: the
// browser's GET /oauth/authorize and the admin API's headless
// POST /__admin/authorize, which carries the authorize URL in its body and
// answers the redirect as JSON. Faults of the authorization endpoint go
// through both.
const (
	routeAuthorize      = "GET /oauth/authorize"
	routeAdminAuthorize = "POST /__admin/authorize"
)

var authorizeRoutes = []string{routeAuthorize, routeAdminAuthorize}

// authorizeQuery is the authorization request's query.
func (x *exchange) authorizeQuery() url.Values {
	if x.r.Method == http.MethodGet {
		return x.r.URL.Query()
	}
	u, err := url.Parse(x.fields["url"])
	if err != nil {
		return url.Values{}
	}
	return u.Query()
}

func (x *exchange) setAuthorizeQuery(q url.Values) {
	if x.r.Method == http.MethodGet {
		x.r.URL.RawQuery = q.Encode()
		return
	}
	if u, err := url.Parse(x.fields["url"]); err == nil {
		u.RawQuery = q.Encode()
		x.setField("url", u.String())
	}
}

// refuseAuthorize answers as the authorization endpoint does for a request
// it must not redirect (RFC 6749 §4.1.2.1): a page, or JSON to the admin API.
func (s *Server) refuseAuthorize(x *exchange, e *oauth.Error) bool {
	if x.r.Method == http.MethodGet {
		s.renderMessage(x.w, x.r, http.StatusBadRequest, "Sign-in request refused", e.Description, "")
		return true
	}
	return x.answer(e)
}

// editClientRedirect edits the redirect back to the client (always an
// absolute URI): the Location of the browser's redirect, or the admin API's
// "redirect" field.
func (x *exchange) editClientRedirect(edit func(url.Values)) {
	loc, inBody := x.header.Get("Location"), false
	if x.r.Method != http.MethodGet {
		loc, _ = x.body["redirect"].(string)
		inBody = true
	}
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() { // not a client's redirect URI: the login page
		return
	}
	q := u.Query()
	edit(q)
	u.RawQuery = q.Encode()
	if inBody {
		x.set("redirect", u.String())
	} else {
		x.header.Set("Location", u.String())
	}
}

// bufferedResponse holds a handler's answer for the after step.
type bufferedResponse struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

// storeObservation is what the fault store (fault_store.go) saw during one
// request on a route with faults on.
type storeObservation struct {
	// rotation is the outcome of the refresh-token rotation.
	rotation store.RotateOutcome
	// revoked is set when a family or an access token was revoked.
	revoked bool
	// fork is the refresh token of the branch reuse-accepted minted.
	fork string
}

type observationKey struct{}

// observed returns the request's observation; a throwaway one outside
// faulty routes.
func observed(ctx context.Context) *storeObservation {
	if o, ok := ctx.Value(observationKey{}).(*storeObservation); ok {
		return o
	}
	return &storeObservation{}
}
