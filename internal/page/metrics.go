package page

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Metric is one Prometheus sample.
type Metric struct {
	Name   string
	Help   string
	Type   string // counter | gauge
	Labels map[string]string
	Value  float64
}

// WriteMetrics writes samples in the Prometheus text exposition format
// (version 0.0.4), grouping samples of one name under one HELP/TYPE header,
// in the order names first appear.
func WriteMetrics(w io.Writer, ms []Metric) error {
	var order []string
	groups := map[string][]Metric{}
	for _, m := range ms {
		if _, ok := groups[m.Name]; !ok {
			order = append(order, m.Name)
		}
		groups[m.Name] = append(groups[m.Name], m)
	}
	var b strings.Builder
	for _, name := range order {
		g := groups[name]
		if g[0].Help != "" {
			fmt.Fprintf(&b, "# HELP %s %s\n", name, escapeHelp(g[0].Help))
		}
		typ := g[0].Type
		if typ == "" {
			typ = "untyped"
		}
		fmt.Fprintf(&b, "# TYPE %s %s\n", name, typ)
		for _, m := range g {
			b.WriteString(name)
			if len(m.Labels) > 0 {
				keys := make([]string, 0, len(m.Labels))
				for k := range m.Labels {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				b.WriteByte('{')
				for i, k := range keys {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%s=\"%s\"", k, escapeLabel(m.Labels[k]))
				}
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(strconv.FormatFloat(m.Value, 'g', -1, 64))
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}
