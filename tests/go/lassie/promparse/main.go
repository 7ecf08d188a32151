// go-prom-parse: Prometheus's own text-format parser (prometheus/common expfmt, as the
// Prometheus server and promtool read an exposition) over stdin. Prints the metric families as
// one line of JSON: {name: {"type": T, "samples": [{"labels": {...}, "value": V}]}}, or
// "ERROR <message>" and exit 1 when the exposition does not parse.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

type sample struct {
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
}

type family struct {
	Type    string   `json:"type"`
	Samples []sample `json:"samples"`
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	case m.Summary != nil:
		return m.Summary.GetSampleSum()
	case m.Histogram != nil:
		return m.Histogram.GetSampleSum()
	}
	return 0
}

func main() {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Printf("ERROR %s\n", err)
		os.Exit(1)
	}
	out := map[string]family{}
	for name, f := range families {
		fam := family{Type: f.GetType().String(), Samples: []sample{}}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			fam.Samples = append(fam.Samples, sample{Labels: labels, Value: value(m)})
		}
		out[name] = fam
	}
	j, _ := json.Marshal(out)
	fmt.Println(string(j))
}
