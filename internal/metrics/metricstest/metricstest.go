// Package metricstest checks a /metrics body in tests the way Prometheus
// and promtool would: it parses the whole text with the Prometheus text
// parser (github.com/prometheus/common/expfmt), lints it with promlint
// (promtool check metrics), and looks samples up by name and labels.
package metricstest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one parsed exposition.
type Scrape struct {
	Body     string
	Families map[string]*dto.MetricFamily
}

// Parse parses body and fails t when it does not parse or when promlint
// finds a problem.
func Parse(t testing.TB, body []byte) *Scrape {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, pr := range problems {
		t.Errorf("promlint: %s: %s", pr.Metric, pr.Text)
	}
	return &Scrape{Body: string(body), Families: fams}
}

// Get scrapes url and parses the body.
func Get(t testing.TB, url string) *Scrape {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q", ct)
	}
	return Parse(t, body)
}

// Value returns the value of the sample of name whose labels include
// every pair given (name, value, name, value...).
func (s *Scrape) Value(name string, labels ...string) (float64, bool) {
	f := s.Families[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// Names lists the families, sorted.
func (s *Scrape) Names() []string {
	var n []string
	for k := range s.Families {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// String is the body, for failure messages.
func (s *Scrape) String() string { return fmt.Sprintf("%s", s.Body) }
