package metrics_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"callrec/calls"
	"callrec/internal/metrics"
	"callrec/internal/testtool"
	"callrec/media"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return string(b)
}

// sample builds a registry that has seen one call of each kind.
func sample() *metrics.Metrics {
	live := []media.CallInfo{{Rec: calls.RecRecording}, {Rec: calls.RecOff}}
	m := metrics.New(metrics.Sources{Calls: func() []media.CallInfo { return live }, WebhookBacklog: func() (int64, error) { return 3, nil }})
	m.CallEnded(media.CallInfo{Outcome: calls.OutcomeCompleted, PacketsIn: [2]uint64{500, 480}, PacketsRelayed: [2]uint64{470, 490}, PacketsStale: [2]uint64{6, 0}, RTPForeign: [2]uint64{0, 7},
		Recording: &media.RecordingInfo{Duration: 10 * time.Second, Late: [2]time.Duration{40 * time.Millisecond}, Skipped: [2]time.Duration{0, 60 * time.Millisecond},
			LatePackets: [2]uint64{2, 0}, ArrivedLatePackets: [2]uint64{0, 3}}, RTPKernelDrops: [2]uint64{4, 1}})
	m.CallEnded(media.CallInfo{Outcome: calls.OutcomeUnanswered})
	m.SIPRequest("INVITE", 200)
	m.SIPRequest("FOO", 405)
	m.WebhookDelivered("delivered")
	m.HTTPRequest("/recordings/:id", "GET", 200, 30*time.Millisecond)
	m.Upload(2*time.Second, nil)
	return m
}

// TestMetricsOutput: the values follow the calls, unknown SIP methods are "other", and promtool
// accepts the output.
func TestMetricsOutput(t *testing.T) {
	out := scrape(t, sample())
	for _, want := range []string{
		"callrec_calls_active 2", "callrec_recordings_active 1", "callrec_webhook_backlog 3",
		`callrec_calls_total{outcome="completed"} 1`, `callrec_calls_total{outcome="unanswered"} 1`, `callrec_calls_total{outcome="busy"} 0`,
		`callrec_recordings_total{result="complete"} 1`, `callrec_recordings_total{result="failed"} 0`,
		`callrec_rtp_packets_total{result="received"} 980`, `callrec_rtp_packets_total{result="relayed"} 960`, `callrec_rtp_packets_total{result="stale"} 6`, `callrec_rtp_packets_total{result="late"} 2`, `callrec_rtp_packets_total{result="late_sender"} 3`, `callrec_rtp_packets_total{result="kernel_dropped"} 5`, `callrec_rtp_packets_total{result="foreign"} 7`,
		"callrec_recording_silence_filled_seconds_total 0.1", "callrec_recording_seconds_total 10",
		`callrec_sip_requests_total{code="200",method="INVITE"} 1`, `callrec_sip_requests_total{code="405",method="other"} 1`,
		`callrec_webhook_deliveries_total{result="delivered"} 1`, `callrec_webhook_deliveries_total{result="failed"} 0`,
		`callrec_http_request_duration_seconds_count{code="200",route="/recordings/:id"} 1`,
		"callrec_storage_upload_duration_seconds_count 1", "callrec_storage_upload_failures_total 0",
		"go_goroutines ", "process_resident_memory_bytes ",
	} {
		if !strings.Contains(out, "\n"+want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	promtool := testtool.Need(t, "promtool", "prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, b)
	}
}

var metricName = regexp.MustCompile(`\b((?:callrec|go|process)_[a-z_]+)`)

// TestDashboardAndAlerts: the alert rules pass promtool, every query of the Grafana dashboard
// is valid PromQL (promtool checks it as a rule), and every metric either names is one this
// package exports.
func TestDashboardAndAlerts(t *testing.T) {
	promtool := testtool.Need(t, "promtool", "prometheus")
	root := filepath.Join("..", "..", "deploy")
	if b, err := exec.Command(promtool, "check", "rules", filepath.Join(root, "prometheus", "alerts.yml")).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(filepath.Join(root, "grafana", "callrec.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	var exprs []string
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			e := strings.NewReplacer("$job", "callrec", "$instance", ".*", "$__rate_interval", "5m").Replace(q.Expr)
			exprs = append(exprs, q.Expr)
			j, _ := json.Marshal(e)
			rules.WriteString("      - record: dashboard:query\n        expr: " + string(j) + "\n")
		}
	}
	if len(exprs) < 15 {
		t.Fatalf("%d queries in the dashboard", len(exprs))
	}
	f := filepath.Join(t.TempDir(), "dashboard.yml")
	if err := os.WriteFile(f, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
		t.Fatalf("dashboard queries: %v\n%s", err, b)
	}
	out := scrape(t, sample())
	alerts, _ := os.ReadFile(filepath.Join(root, "prometheus", "alerts.yml"))
	for _, name := range metricName.FindAllString(strings.Join(exprs, "\n")+string(alerts), -1) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
		if !strings.Contains(out, "\n"+base) && !strings.Contains(out, "\n"+name) {
			t.Errorf("%s is not exported", name)
		}
	}
}
