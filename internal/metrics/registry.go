package metrics

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	vm "github.com/VictoriaMetrics/metrics"
)

// Type is a family's Prometheus type.
type Type string

// Family types.
const (
	Gauge   Type = "gauge"
	Counter Type = "counter"
)

// Emit adds one sample: its value and label name/value pairs.
type Emit func(value float64, labels ...string)

// Family is one metric name with its help text, type and collector.
type Family struct {
	Name string // Prometheus name: meshbox_..., counters end in _total
	Help string
	Type Type
	// Collect emits the family's current samples; it runs at every scrape
	// and must not block on I/O.
	Collect func(emit Emit)
}

// Registry holds the families and writes the exposition.
type Registry struct {
	log *slog.Logger

	mu       sync.Mutex
	families map[string]Family
}

// NewRegistry returns an empty registry; log reports samples that cannot
// be exposed (nil: discarded).
func NewRegistry(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{log: log, families: map[string]Family{}}
}

var nameRe = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// Register adds f. A name registered twice, an invalid name or a missing
// collector is an error.
func (r *Registry) Register(f Family) error {
	switch {
	case !nameRe.MatchString(f.Name):
		return fmt.Errorf("metrics: %q is not a valid metric name", f.Name)
	case f.Type != Gauge && f.Type != Counter:
		return fmt.Errorf("metrics: %s: type %q is not gauge or counter", f.Name, f.Type)
	case f.Type == Counter && !strings.HasSuffix(f.Name, "_total"):
		return fmt.Errorf("metrics: counter %s must end in _total", f.Name)
	case f.Collect == nil:
		return fmt.Errorf("metrics: %s has no collector", f.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.families[f.Name]; dup {
		return fmt.Errorf("metrics: %s registered twice", f.Name)
	}
	r.families[f.Name] = f
	return nil
}

// MustRegister is Register for the box's own families, whose names are
// constants: an error is a programming error.
func (r *Registry) MustRegister(fs ...Family) {
	for _, f := range fs {
		if err := r.Register(f); err != nil {
			panic(err)
		}
	}
}

// WritePrometheus writes every family with samples in the text format
// (version 0.0.4), sorted by name. The samples of one family are laid out
// by a VictoriaMetrics Set; HELP and TYPE come first.
func (r *Registry) WritePrometheus(w io.Writer) error {
	r.mu.Lock()
	fams := make([]Family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	sort.Slice(fams, func(i, j int) bool { return fams[i].Name < fams[j].Name })

	var buf bytes.Buffer
	for _, f := range fams {
		set := vm.NewSet()
		seen := map[string]bool{}
		n := 0
		f.Collect(func(v float64, labels ...string) {
			name := f.Name + labelSet(labels)
			if seen[name] {
				r.log.Debug("metrics: duplicate sample dropped", "metric", name)
				return
			}
			if err := vm.ValidateMetric(name); err != nil {
				r.log.Warn("metrics: sample dropped", "metric", name, "err", err)
				return
			}
			seen[name] = true
			n++
			set.NewGauge(name, func() float64 { return v })
		})
		if n == 0 {
			continue
		}
		fmt.Fprintf(&buf, "# HELP %s %s\n# TYPE %s %s\n", f.Name, strings.ReplaceAll(strings.ReplaceAll(f.Help, `\`, `\\`), "\n", `\n`), f.Name, f.Type)
		set.WritePrometheus(&buf)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ServeHTTP serves the exposition.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_ = r.WritePrometheus(w)
}

// labelSet renders label pairs as {a="x",b="y"} ("" without labels). An
// odd trailing name is ignored.
func labelSet(pairs []string) string {
	if len(pairs) < 2 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(pairs[i])
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(pairs[i+1]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
