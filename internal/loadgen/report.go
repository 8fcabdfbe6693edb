package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Run is one measured sitting of one server: what `loadgen run` prints as a
// JSON line and `loadgen report` reads back.
type Run struct {
	Label    string        `json:"label"` // e.g. "codexauth sqlite"
	Kind     Kind          `json:"kind"`
	Families int           `json:"families,omitempty"` // live families seeded before the run
	Clients  int           `json:"clients"`
	Ready    time.Duration `json:"ready_ns"` // process start to first 200 from its ready URL
	Refresh  Result        `json:"refresh"`
	Validate *Result       `json:"validate,omitempty"`
	Memory   Memory        `json:"memory"` // of the server process, after the run
	// ServerCPU and LoadgenCPU are the processor time the server process and
	// the generator used during the measured refreshes: per refresh, a
	// figure other tenants of the machine disturb far less than the rate.
	ServerCPU  time.Duration `json:"server_cpu_ns,omitempty"`
	LoadgenCPU time.Duration `json:"loadgen_cpu_ns,omitempty"`
	At         time.Time     `json:"at"`
}

// ReadRuns reads the JSON lines of a results file.
func ReadRuns(r io.Reader) ([]Run, error) {
	var out []Run
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var run Run
		if err := json.Unmarshal([]byte(line), &run); err != nil {
			return nil, fmt.Errorf("results line %q: %w", line, err)
		}
		out = append(out, run)
	}
	return out, sc.Err()
}

// SignBench is the signing cost `go test -bench RS256` measured.
type SignBench struct {
	Serial   time.Duration // one RS256 signature on one core
	Parallel time.Duration // per signature with every core signing
}

// Ceiling is the refresh rate a server that did nothing but sign would
// reach on this machine: two signatures (id_token, access token) per
// refresh, every core signing.
func (b SignBench) Ceiling() float64 {
	if b.Parallel <= 0 {
		return 0
	}
	return float64(time.Second) / float64(2*b.Parallel)
}

var benchLine = regexp.MustCompile(`^(BenchmarkRS256Sign\w*?)(-\d+)?\s+\d+\s+([\d.]+) ns/op`)

// ParseSignBench reads `go test -bench` output for BenchmarkRS256Sign and
// BenchmarkRS256SignParallel.
func ParseSignBench(r io.Reader) (SignBench, error) {
	var b SignBench
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		ns, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return b, err
		}
		switch m[1] {
		case "BenchmarkRS256Sign":
			b.Serial = time.Duration(ns)
		case "BenchmarkRS256SignParallel":
			b.Parallel = time.Duration(ns)
		}
	}
	if b.Serial == 0 || b.Parallel == 0 {
		return b, fmt.Errorf("no BenchmarkRS256Sign/BenchmarkRS256SignParallel lines in the bench output")
	}
	return b, sc.Err()
}

// group is every round of one label (and seeded size).
type group struct {
	label    string
	families int
	runs     []Run
}

func groupRuns(runs []Run) []*group {
	var out []*group
	idx := map[string]*group{}
	for _, r := range runs {
		k := fmt.Sprint(r.Label, "\x00", r.Families)
		g, ok := idx[k]
		if !ok {
			g = &group{label: r.Label, families: r.Families}
			idx[k] = g
			out = append(out, g)
		}
		g.runs = append(g.runs, r)
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (g *group) each(f func(Run) float64) []float64 {
	out := make([]float64, 0, len(g.runs))
	for _, r := range g.runs {
		out = append(out, f(r))
	}
	return out
}

func (g *group) rate() float64 { return median(g.each(func(r Run) float64 { return r.Refresh.Rate })) }

func (g *group) p50() time.Duration {
	return time.Duration(median(g.each(func(r Run) float64 { return float64(r.Refresh.P50) })))
}

func (g *group) p99() time.Duration {
	return time.Duration(median(g.each(func(r Run) float64 { return float64(r.Refresh.P99) })))
}

// cpuPerRefresh is the server process's processor time per refresh
// (median over rounds), or "–" when it was not measured.
func (g *group) cpuPerRefresh() string {
	v := median(g.each(func(r Run) float64 {
		if r.Refresh.OK == 0 {
			return 0
		}
		return float64(r.ServerCPU) / float64(r.Refresh.OK)
	}))
	if v == 0 {
		return "–"
	}
	return strconv.FormatFloat(v/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

func spread(xs []float64, format func(float64) string) string {
	if len(xs) < 2 {
		return ""
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	return " (" + format(lo) + "–" + format(hi) + ")"
}

func perSecond(x float64) string { return strconv.FormatFloat(x, 'f', 0, 64) }

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

// WriteReport prints the Markdown tables: refresh throughput per server with
// its ratio to peerLabel and to the signing ceiling, validations, time to
// ready; then latency against the number of live families.
func WriteReport(w io.Writer, runs []Run, sign SignBench, peerLabel string) {
	groups := groupRuns(runs)
	var peer *group
	for _, g := range groups {
		if g.label == peerLabel && g.families == 0 {
			peer = g
		}
	}
	ceiling := sign.Ceiling()
	fmt.Fprintf(w, "RS256 signature: %s on one core, %s per signature with every core signing → ceiling %s refreshes/s (2 signatures each)\n\n",
		sign.Serial, sign.Parallel, perSecond(ceiling))
	fmt.Fprintln(w, "| server | rounds | refreshes/s median (range) | p50 | p99 | p99/p50 | errors | × "+peerLabel+" | × ceiling | server CPU/refresh | validations/s | ready |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, g := range groups {
		if g.families != 0 {
			continue
		}
		errs := 0
		for _, r := range g.runs {
			errs += r.Refresh.Errors
			if r.Validate != nil {
				errs += r.Validate.Errors
			}
		}
		vsPeer, vsCeiling := "–", "–"
		if peer != nil && peer.rate() > 0 {
			vsPeer = fmt.Sprintf("%.2f", g.rate()/peer.rate())
		}
		if ceiling > 0 {
			vsCeiling = fmt.Sprintf("%.2f", g.rate()/ceiling)
		}
		validate := "–"
		if v := g.each(func(r Run) float64 {
			if r.Validate == nil {
				return 0
			}
			return r.Validate.Rate
		}); median(v) > 0 {
			validate = perSecond(median(v)) + spread(v, perSecond)
		}
		ready := g.each(func(r Run) float64 { return float64(r.Ready) })
		tail := 0.0
		if g.p50() > 0 {
			tail = float64(g.p99()) / float64(g.p50())
		}
		fmt.Fprintf(w, "| %s | %d | %s%s | %s | %s | %.1f | %d | %s | %s | %s | %s | %s |\n", g.label, len(g.runs),
			perSecond(g.rate()), spread(g.each(func(r Run) float64 { return r.Refresh.Rate }), perSecond),
			ms(g.p50()), ms(g.p99()), tail, errs, vsPeer, vsCeiling, g.cpuPerRefresh(), validate, ms(time.Duration(median(ready))))
	}
	writeScale(w, groups)
}

// writeScale prints the rows measured on seeded stores: p50 at each size
// against the smallest size of the same server.
func writeScale(w io.Writer, groups []*group) {
	byLabel := map[string][]*group{}
	var labels []string
	for _, g := range groups {
		if g.families == 0 {
			continue
		}
		if _, ok := byLabel[g.label]; !ok {
			labels = append(labels, g.label)
		}
		byLabel[g.label] = append(byLabel[g.label], g)
	}
	if len(labels) == 0 {
		return
	}
	fmt.Fprintln(w, "\n| server | live families | rounds | refreshes/s | p50 | p99 | p50 / p50 at the smallest size | server CPU/refresh | server memory (peak RSS) | ready |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, l := range labels {
		gs := byLabel[l]
		sort.Slice(gs, func(i, j int) bool { return gs[i].families < gs[j].families })
		for _, g := range gs {
			peak := median(g.each(func(r Run) float64 { return float64(r.Memory.PeakKiB) }))
			ready := time.Duration(median(g.each(func(r Run) float64 { return float64(r.Ready) })))
			fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %.2f | %s | %.0f MiB | %s |\n", l, g.families, len(g.runs), perSecond(g.rate()),
				ms(g.p50()), ms(g.p99()), float64(g.p50())/float64(gs[0].p50()), g.cpuPerRefresh(), peak/1024, ms(ready))
		}
	}
}

// ReadRunsFile is ReadRuns on a file.
func ReadRunsFile(path string) ([]Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadRuns(f)
}
