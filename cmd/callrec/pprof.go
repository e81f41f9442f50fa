package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves Go's profiler on CALLREC_PPROF (host:port; empty: off) for load tests
// (scripts/bench-engine.sh PROFILE=SECONDS). It is deliberately no flag: an operator should
// not find it, and it listens only where told.
func startPprof(getenv func(string) string, log *slog.Logger) {
	addr := getenv("CALLREC_PPROF")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("pprof listener", "addr", addr, "err", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	log.Warn("pprof listening", "addr", ln.Addr().String())
	go func() { _ = (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln) }()
}
