package capture

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// The capture format is fixtures/golden/wire-codex-0.169.0.txt's: a
// "### section" line per flow, then each request as it went on the wire —
// request line, headers, a blank line, the body on one line — followed by
// "--> STATUS response". Lines starting with "# " are comments (outside a
// request); this package writes a few it reads back:
//
//	# codex-cli VERSION …          the version that was captured
//	# refused by the guard: H, …    destinations outside the issuer codex tried
//	# flow failed: WHY              the flow did not complete with this codex
//	# note: WHAT                    the next request is not codex's own

// Write writes c in the capture format.
func Write(w io.Writer, c *Capture) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# codex-cli %s, captured by `codexauth capture --codex-version %s` against the codexauth reference issuer.\n", c.Version, c.Version)
	fmt.Fprintf(bw, "# Secrets are masked as masked.jwt, masked.uuid or masked.LENGTH; the issuer's 127.0.0.1:PORT is written %s;\n", IssuerHost)
	fmt.Fprintf(bw, "# content-length is left out. \"host: auth.openai.com\" marks what codex sent to its production host\n")
	fmt.Fprintf(bw, "# (routed to the issuer by the guard proxy).\n")
	for _, s := range c.Sections {
		fmt.Fprintf(bw, "\n### %s\n", s.Name)
		if s.Failed != "" {
			fmt.Fprintf(bw, "# flow failed: %s\n", oneLine(s.Failed))
		}
		if len(s.Refused) > 0 {
			fmt.Fprintf(bw, "# refused by the guard: %s\n", strings.Join(s.Refused, ", "))
		}
		for _, e := range s.Exchanges {
			if e.Note != "" {
				fmt.Fprintf(bw, "# note: %s\n", oneLine(e.Note))
			}
			fmt.Fprintf(bw, "%s %s HTTP/1.1\n", e.Method, e.Target)
			for _, h := range e.Headers {
				fmt.Fprintf(bw, "%s: %s\n", h.Name, oneLine(h.Value))
			}
			fmt.Fprintln(bw)
			if e.Body != "" {
				fmt.Fprintln(bw, oneLine(e.Body))
			}
			if e.Note == "" {
				fmt.Fprintf(bw, "--> %d %s\n", e.Status, oneLine(e.Response))
			}
			fmt.Fprintln(bw)
		}
	}
	return bw.Flush()
}

func oneLine(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s))
}

var (
	requestLine = regexp.MustCompile(`^([A-Z]+) (\S+) HTTP/1\.1$`)
	versionLine = regexp.MustCompile(`^# codex-cli (\S+?),? `)
)

// Parse reads a capture. It also reads the original verbatim capture
// (fixtures/golden/wire-codex-0.169.0.txt), whose sections are named after
// the mock's files.
func Parse(r io.Reader) (*Capture, error) {
	c := &Capture{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	var sec *Section
	var cur *Exchange
	state := "" // "headers", "body", ""
	note := ""
	n := 0
	flush := func() {
		if cur != nil && sec != nil {
			sec.Exchanges = append(sec.Exchanges, *cur)
		}
		cur, state = nil, ""
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case state == "headers" && line == "":
			state = "body"
		case state == "headers":
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				k, v, ok = strings.Cut(line, ":")
			}
			if !ok {
				return nil, fmt.Errorf("line %d: header %q has no colon", n, line)
			}
			cur.Headers = append(cur.Headers, Header{strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)})
		case strings.HasPrefix(line, "### "):
			flush()
			c.Sections = append(c.Sections, Section{Name: strings.TrimSpace(strings.TrimPrefix(line, "### "))})
			sec = &c.Sections[len(c.Sections)-1]
		case requestLine.MatchString(line):
			flush()
			if sec == nil {
				c.Sections = append(c.Sections, Section{Name: "(none)"})
				sec = &c.Sections[len(c.Sections)-1]
			}
			m := requestLine.FindStringSubmatch(line)
			cur = &Exchange{Section: sec.Name, Method: m[1], Target: m[2], Note: note}
			note, state = "", "headers"
		case state == "body" && strings.HasPrefix(line, "--> "):
			code, rest, _ := strings.Cut(strings.TrimPrefix(line, "--> "), " ")
			cur.Status, _ = strconv.Atoi(code)
			cur.Response = rest
			flush()
		case state == "body" && line != "" && cur.Body == "":
			cur.Body = line
		case state == "body" && line == "":
			if cur.Note != "" || cur.Body != "" {
				flush()
			}
		case strings.HasPrefix(line, "# "):
			flush()
			text := strings.TrimPrefix(line, "# ")
			switch {
			case versionLine.MatchString(line) && c.Version == "":
				c.Version = versionLine.FindStringSubmatch(line)[1]
			case strings.HasPrefix(text, "note: "):
				note = strings.TrimPrefix(text, "note: ")
			case strings.HasPrefix(text, "flow failed: ") && sec != nil:
				sec.Failed = strings.TrimPrefix(text, "flow failed: ")
			case strings.HasPrefix(text, "refused by the guard: ") && sec != nil:
				sec.Refused = strings.Split(strings.TrimPrefix(text, "refused by the guard: "), ", ")
			}
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return c, nil
}
