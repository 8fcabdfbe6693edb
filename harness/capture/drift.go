package capture

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Drift is one difference between what two codex releases send.
type Drift struct {
	Section string
	// Endpoint is the request that changed ("" for a flow-wide change).
	Endpoint string
	// Kind is one of: flow, endpoint, destination, encoding, field, header,
	// value, order, answer.
	Kind string
	Text string
}

func (d Drift) String() string {
	if d.Endpoint != "" {
		return fmt.Sprintf("[%s] %s: %s: %s", d.Section, d.Kind, d.Endpoint, d.Text)
	}
	return fmt.Sprintf("[%s] %s: %s", d.Section, d.Kind, d.Text)
}

// occurrences groups a section's requests by endpoint, consecutive repeats
// with the same body shape counted once (codex polls the device token
// endpoint as often as the approval takes).
func occurrences(s *Section) (keys []string, first map[string]Exchange, count map[string]int) {
	first, count = map[string]Exchange{}, map[string]int{}
	prev := ""
	for _, e := range s.Exchanges {
		k := e.Key()
		sig := k + "\x00" + e.Body
		if sig == prev {
			continue
		}
		prev = sig
		if _, ok := first[k]; !ok {
			first[k] = e
			keys = append(keys, k)
		}
		count[k]++
	}
	return keys, first, count
}

// backgroundRequests are sent by codex in the background, racing the flow:
// codex app-server (0.166.0–0.168.0) fetches featured plugins at start,
// before or after the client's initialize, so its originator and
// User-Agent vary from run to run. Whether they are sent is compared; how,
// not.
var backgroundRequests = map[string]bool{"GET /backend-api/plugins/featured": true}

// Diff lists what changed from base (the pinned release's capture) to next.
func Diff(base, next *Capture) []Drift {
	var out []Drift
	add := func(section, kind, format string, args ...any) {
		out = append(out, Drift{Section: section, Kind: kind, Text: fmt.Sprintf(format, args...)})
	}
	for _, bs := range base.Sections {
		if next.Section(bs.Name) == nil {
			add(bs.Name, "flow", "not captured with %s", next.Version)
		}
	}
	for i := range next.Sections {
		ns := &next.Sections[i]
		bs := base.Section(ns.Name)
		if bs == nil {
			add(ns.Name, "flow", "not captured with %s", base.Version)
			continue
		}
		switch {
		case bs.Failed == "" && ns.Failed != "":
			add(ns.Name, "flow", "completes with %s, fails with %s: %s", base.Version, next.Version, ns.Failed)
		case bs.Failed != "" && ns.Failed == "":
			add(ns.Name, "flow", "fails with %s (%s), completes with %s", base.Version, bs.Failed, next.Version)
		}
		for _, h := range ns.Refused {
			if !slices.Contains(bs.Refused, h) {
				add(ns.Name, "destination", "codex now also tries to reach %s (outside the issuer; refused)", h)
			}
		}
		for _, h := range bs.Refused {
			if !slices.Contains(ns.Refused, h) {
				add(ns.Name, "destination", "codex no longer tries to reach %s", h)
			}
		}
		bkeys, bfirst, bcount := occurrences(bs)
		nkeys, nfirst, ncount := occurrences(ns)
		for _, k := range nkeys {
			if _, ok := bfirst[k]; !ok {
				add(ns.Name, "endpoint", "new: %s", describe(nfirst[k]))
			}
		}
		for _, k := range bkeys {
			if _, ok := nfirst[k]; !ok {
				add(ns.Name, "endpoint", "no longer sent: %s", describe(bfirst[k]))
			}
		}
		var bcommon, ncommon []string
		for _, k := range bkeys {
			if _, ok := nfirst[k]; ok && !backgroundRequests[k] {
				bcommon = append(bcommon, k)
			}
		}
		for _, k := range nkeys {
			if _, ok := bfirst[k]; ok && !backgroundRequests[k] {
				ncommon = append(ncommon, k)
			}
		}
		if !slices.Equal(bcommon, ncommon) {
			add(ns.Name, "order", "requests in a new order: %s → %s", strings.Join(bcommon, ", "), strings.Join(ncommon, ", "))
		}
		for _, k := range ncommon {
			if bcount[k] != ncount[k] {
				add(ns.Name, "endpoint", "%s sent %d× (was %d×)", k, ncount[k], bcount[k])
			}
			if backgroundRequests[k] {
				continue
			}
			for _, d := range diffExchange(bfirst[k], nfirst[k]) {
				d.Section, d.Endpoint = ns.Name, k
				out = append(out, d)
			}
		}
	}
	return out
}

func describe(e Exchange) string {
	s := e.Key()
	if ct := e.Header("content-type"); ct != "" {
		s += " [" + ct + "]"
	}
	if e.Body != "" {
		b := e.Body
		if len(b) > 160 {
			b = b[:160] + "…"
		}
		s += " " + b
	}
	return s
}

func diffExchange(b, n Exchange) []Drift {
	var out []Drift
	add := func(kind, format string, args ...any) {
		out = append(out, Drift{Kind: kind, Text: fmt.Sprintf(format, args...)})
	}
	bs, ns := shapeOf(b), shapeOf(n)
	if bs.encoding != ns.encoding {
		add("encoding", "body %s → %s", bs.encoding, ns.encoding)
	}
	for _, name := range sortedKeys(bs.headers, ns.headers) {
		bv, bok := bs.headers[name]
		nv, nok := ns.headers[name]
		switch {
		case !bok:
			add("header", "new header %s: %s", name, nv)
		case !nok:
			add("header", "header %s no longer sent (was %s)", name, bv)
		case bv != nv:
			kind := "header"
			if name == "content-type" {
				kind = "encoding"
			}
			add(kind, "%s: %s → %s", name, bv, nv)
		}
	}
	out = append(out, diffFields("field", bs.fields, ns.fields)...)
	out = append(out, diffFields("query", bs.query, ns.query)...)
	if b.Note == "" && b.Status != n.Status {
		add("answer", "the issuer answered %d, now %d %s", b.Status, n.Status, truncate(n.Response, 160))
	}
	return out
}

func diffFields(where string, b, n []field) []Drift {
	var out []Drift
	add := func(kind, format string, args ...any) {
		out = append(out, Drift{Kind: kind, Text: fmt.Sprintf(format, args...)})
	}
	bm, nm := map[string]field{}, map[string]field{}
	var bk, nk []string
	for _, f := range b {
		bm[f.Key] = f
		bk = append(bk, f.Key)
	}
	for _, f := range n {
		nm[f.Key] = f
		nk = append(nk, f.Key)
	}
	label := "field"
	if where == "query" {
		label = "query parameter"
	}
	for _, f := range n {
		if _, ok := bm[f.Key]; !ok {
			add("field", "new %s %s (%s %s)", label, f.Key, f.Kind, valueOrShape(f))
		}
	}
	for _, f := range b {
		if _, ok := nm[f.Key]; !ok {
			add("field", "%s %s no longer sent", label, f.Key)
		}
	}
	var bc, nc []string
	for _, k := range bk {
		if _, ok := nm[k]; ok {
			bc = append(bc, k)
		}
	}
	for _, k := range nk {
		if _, ok := bm[k]; ok {
			nc = append(nc, k)
		}
	}
	if !slices.Equal(bc, nc) {
		add("order", "%s order %s → %s", label, strings.Join(bc, ","), strings.Join(nc, ","))
	}
	for _, f := range n {
		g, ok := bm[f.Key]
		if !ok {
			continue
		}
		switch {
		case g.Kind != f.Kind:
			add("encoding", "%s %s: %s → %s", label, f.Key, g.Kind, f.Kind)
		case g.Val != f.Val && !sameMaskedLength(g.Val, f.Val):
			add("value", "%s %s: %s → %s", label, f.Key, valueOrShape(g), valueOrShape(f))
		}
	}
	return out
}

// sameMaskedLength: two masked secrets of different lengths are the same
// thing as far as codex is concerned — their length is the issuer's (a
// refresh token that carries a sealed context is longer), not codex's.
func sameMaskedLength(a, b string) bool {
	isLen := func(s string) bool {
		n, ok := strings.CutPrefix(s, maskPrefix)
		_, err := strconv.Atoi(n)
		return ok && err == nil
	}
	return isLen(a) && isLen(b)
}

func valueOrShape(f field) string {
	if f.Kind == "object" || f.Kind == "array" || f.Kind == "null" {
		return f.Kind
	}
	return truncate(f.Val, 80)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func sortedKeys(a, b map[string]string) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Summary lines: one per change, the same change on several requests
// told once with where it was seen.
func Summary(drift []Drift) []string {
	type group struct {
		kind, text string
		where      []string
		sections   map[string]bool
	}
	var groups []*group
	byChange := map[string]*group{}
	for _, d := range drift {
		if d.Endpoint == "" {
			groups = append(groups, &group{kind: d.Kind, text: d.Text, where: []string{d.Section}})
			continue
		}
		k := d.Kind + "\x00" + d.Text
		g := byChange[k]
		if g == nil {
			g = &group{kind: d.Kind, text: d.Text, sections: map[string]bool{}}
			byChange[k] = g
			groups = append(groups, g)
		}
		g.where = append(g.where, d.Endpoint+" in "+d.Section)
		g.sections[d.Section] = true
	}
	var out []string
	for _, g := range groups {
		switch {
		case g.sections == nil:
			out = append(out, fmt.Sprintf("%s [%s]: %s", g.kind, g.where[0], g.text))
		case len(g.where) == 1:
			out = append(out, fmt.Sprintf("%s: %s: %s", g.kind, g.where[0], g.text))
		default:
			where := g.where
			if len(where) > 3 {
				where = append(where[:3:3], "…")
			}
			out = append(out, fmt.Sprintf("%s: %s — on %d requests in %d flows (%s)", g.kind, g.text, len(g.where), len(g.sections), strings.Join(where, "; ")))
		}
	}
	return out
}

// Report prints the drift from base to next as a "protocol drift" section.
func Report(w io.Writer, base, next *Capture, drift []Drift) {
	fmt.Fprintf(w, "protocol drift %s → %s: ", base.Version, next.Version)
	if len(drift) == 0 {
		fmt.Fprintln(w, "none (same endpoints, fields, encodings and headers in every flow)")
		return
	}
	lines := Summary(drift)
	fmt.Fprintf(w, "%d change(s)\n", len(lines))
	for _, l := range lines {
		fmt.Fprintf(w, "  - %s\n", l)
	}
}
