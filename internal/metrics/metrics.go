// Package metrics is callrec's Prometheus metrics: the engine's calls, recordings and RTP, SIP
// requests, webhook deliveries, uploads to the storage and the web's request durations, beside
// Go's runtime and the process. Labels hold only fixed vocabularies (outcomes, results, SIP
// methods and codes, route patterns), never a number, a name or an id.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"callrec/calls"
	"callrec/media"
)

// Metrics holds the collectors of one process.
type Metrics struct {
	reg *prometheus.Registry

	callsTotal      *prometheus.CounterVec
	recordingsTotal *prometheus.CounterVec
	silence         prometheus.Counter
	recorded        prometheus.Counter
	rtp             *prometheus.CounterVec
	sip             *prometheus.CounterVec
	webhooks        *prometheus.CounterVec
	http            *prometheus.HistogramVec
	uploadTime      prometheus.Histogram
	uploadFailures  prometheus.Counter
}

// Sources are what the gauges read at each scrape.
type Sources struct {
	// Calls is the engine's calls in progress (nil: no engine).
	Calls func() []media.CallInfo
	// WebhookBacklog counts the messages waiting for delivery.
	WebhookBacklog func() (int64, error)
}

// RTP results.
var rtpResults = []string{"received", "relayed", "stale", "late", "dropped", "foreign"}

// New registers every collector.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg,
		callsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callrec_calls_total",
			Help: "Calls that ended, by outcome."}, []string{"outcome"}),
		recordingsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callrec_recordings_total",
			Help: "Recordings closed, by result (complete, failed)."}, []string{"result"}),
		silence: prometheus.NewCounter(prometheus.CounterOpts{Name: "callrec_recording_silence_filled_seconds_total",
			Help: "Audio written as silence because packets were missing: lost or skipped by the sender, late, or beyond the buffers (summed over both directions)."}),
		recorded: prometheus.NewCounter(prometheus.CounterOpts{Name: "callrec_recording_seconds_total",
			Help: "Length of the recordings closed (the base of the silence-filled share)."}),
		rtp: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callrec_rtp_packets_total",
			Help: "RTP audio packets of ended calls, by result: received from a leg, relayed to the other, stale (not relayed: read more than 500 ms after they arrived, too late for the listener; recorded), late (reached the machine in time but were read after their place in the file was written: the engine's), late_sender (reached the machine after their place was final: the sender's or the network's), dropped (readers too far behind), kernel_dropped (lost in a full socket buffer before the readers came), foreign (from a source other than the leg's peer)."}, []string{"result"}),
		sip: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callrec_sip_requests_total",
			Help: "SIP requests received, by method and the final response code sent (0 for ACK, which gets none)."}, []string{"method", "code"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callrec_webhook_deliveries_total",
			Help: "Webhook delivery attempts, by result: delivered, retry (failed, tried again later), failed (given up), refused (address not allowed)."}, []string{"result"}),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "callrec_http_request_duration_seconds",
			Help: "Control Panel and API requests, by route pattern and status code.", Buckets: prometheus.DefBuckets}, []string{"route", "code"}),
		uploadTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "callrec_storage_upload_duration_seconds",
			Help: "Time to store a finished recording (upload and checks), successful or not.", Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}),
		uploadFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "callrec_storage_upload_failures_total",
			Help: "Failed attempts to store a recording (kept in the spool and retried)."}),
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.callsTotal, m.recordingsTotal, m.silence, m.recorded, m.rtp, m.sip, m.webhooks, m.http, m.uploadTime, m.uploadFailures)
	live := src.Calls
	if live == nil {
		live = func() []media.CallInfo { return nil }
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callrec_calls_active", Help: "Calls in progress."},
		func() float64 { return float64(len(live())) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callrec_recordings_active", Help: "Calls being recorded right now."},
		func() float64 {
			n := 0
			for _, c := range live() {
				if c.Rec == calls.RecRecording {
					n++
				}
			}
			return float64(n)
		}))
	if src.WebhookBacklog != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callrec_webhook_backlog",
			Help: "Webhook messages waiting for delivery (new or retried)."},
			func() float64 {
				n, err := src.WebhookBacklog()
				if err != nil {
					return -1
				}
				return float64(n)
			}))
	}
	// Every label value a counter can take appears from the start, so rate() and alerts see a
	// series before its first event.
	for _, o := range calls.Outcomes {
		m.callsTotal.WithLabelValues(string(o))
	}
	for _, r := range []string{string(calls.RecordingComplete), string(calls.RecordingFailed)} {
		m.recordingsTotal.WithLabelValues(r)
	}
	for _, r := range rtpResults {
		m.rtp.WithLabelValues(r)
	}
	for _, r := range []string{"delivered", "retry", "failed", "refused"} {
		m.webhooks.WithLabelValues(r)
	}
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// CallEnded counts a call's final snapshot: its outcome, its recording and its RTP.
func (m *Metrics) CallEnded(c media.CallInfo) {
	if c.Outcome.Valid() {
		m.callsTotal.WithLabelValues(string(c.Outcome)).Inc()
	}
	var in, out, stale, foreign uint64
	for i := range 2 {
		in += c.PacketsIn[i]
		out += c.PacketsRelayed[i]
		stale += c.PacketsStale[i]
		foreign += c.RTPForeign[i]
	}
	m.rtp.WithLabelValues("received").Add(float64(in))
	m.rtp.WithLabelValues("relayed").Add(float64(out))
	m.rtp.WithLabelValues("stale").Add(float64(stale))
	m.rtp.WithLabelValues("foreign").Add(float64(foreign))
	r := c.Recording
	if r == nil {
		return
	}
	if r.Failed != "" {
		m.recordingsTotal.WithLabelValues(string(calls.RecordingFailed)).Inc()
	} else {
		m.recordingsTotal.WithLabelValues(string(calls.RecordingComplete)).Inc()
	}
	var filled time.Duration
	var late, senderLate, dropped, kernel uint64
	for i := range 2 {
		filled += r.Late[i] + r.ArrivedLate[i] + r.Overrun[i] + r.Skipped[i]
		late += r.LatePackets[i]
		senderLate += r.ArrivedLatePackets[i]
		dropped += r.OverrunPackets[i]
		kernel += c.RTPKernelDrops[i]
	}
	m.silence.Add(filled.Seconds())
	m.recorded.Add(r.Duration.Seconds())
	m.rtp.WithLabelValues("late").Add(float64(late))
	m.rtp.WithLabelValues("late_sender").Add(float64(senderLate))
	m.rtp.WithLabelValues("dropped").Add(float64(dropped))
	m.rtp.WithLabelValues("kernel_dropped").Add(float64(kernel))
}

// SIPRequest counts a request and the final answer it got.
func (m *Metrics) SIPRequest(method string, code int) {
	m.sip.WithLabelValues(sipMethod(method), strconv.Itoa(code)).Inc()
}

// sipMethod keeps the label's values to the methods of RFC 3261 and its extensions; anything
// else a peer invents is "other".
func sipMethod(m string) string {
	switch m {
	case "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE", "PRACK", "REFER", "NOTIFY", "SUBSCRIBE", "MESSAGE", "PUBLISH":
		return m
	}
	return "other"
}

// WebhookDelivered counts one delivery attempt's result.
func (m *Metrics) WebhookDelivered(result string) { m.webhooks.WithLabelValues(result).Inc() }

// HTTPRequest observes one request of a route pattern.
func (m *Metrics) HTTPRequest(route, _ string, status int, d time.Duration) {
	m.http.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}

// Upload observes one attempt to store a recording.
func (m *Metrics) Upload(d time.Duration, err error) {
	m.uploadTime.Observe(d.Seconds())
	if err != nil {
		m.uploadFailures.Inc()
	}
}
