package main

import (
	"io"
	"testing"
	"time"
)

func TestSIPOptionsEnvironmentTwins(t *testing.T) {
	env := map[string]string{"CALLREC_SIP_USER_AGENT": "PBX 1", "CALLREC_SIP_TCP_IDLE_TIMEOUT": "90s",
		"CALLREC_SIP_TCP_MESSAGE_TIMEOUT": "5s", "CALLREC_SIP_TCP_CONNS_PER_SOURCE": "4"}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := sipConfig{UserAgent: "PBX 1", TCPIdle: 90 * time.Second, TCPMessage: 5 * time.Second, TCPConnsPerSrc: 4}
	if cfg.SIPOptions != want {
		t.Fatalf("got %+v, want %+v", cfg.SIPOptions, want)
	}
	cfg, err = parseConfig([]string{"--sip-user-agent=", "--sip-tcp-conns-per-source", "-1"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SIPOptions.UserAgent != "" || cfg.SIPOptions.TCPConnsPerSrc != -1 {
		t.Fatalf("flags should beat the environment: %+v", cfg.SIPOptions)
	}
	def, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if def.SIPOptions != (sipConfig{}) {
		t.Fatalf("defaults are the engine's (zero here): %+v", def.SIPOptions)
	}
}
