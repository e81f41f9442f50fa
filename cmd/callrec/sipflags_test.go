package main

import (
	"io"
	"strings"
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

// A SIP listener other machines can reach needs --sip-trusted: start-up says so.
func TestServeRefusesReachableSIPWithoutTrustedPeers(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:5060", ":5060", "192.0.2.1:5060", "[::]:5060"} {
		_, err := parseConfig([]string{"--sip", addr}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--sip-trusted") || !strings.Contains(err.Error(), "CALLREC_SIP_TRUSTED") {
			t.Errorf("--sip %s without --sip-trusted: %v", addr, err)
		}
	}
	for _, args := range [][]string{{"--sip", "127.0.0.1:5060"}, {"--sip", "[::1]:5060"}, {"--sip", "0.0.0.0:5060", "--sip-trusted", "192.0.2.0/24, 198.51.100.7"}} {
		cfg, err := parseConfig(args, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Errorf("%v: %v", args, err)
			continue
		}
		if nets, err := cfg.SIPOptions.trustedNets(); err != nil || len(args) == 4 && (len(nets) != 2 || nets[1].String() != "198.51.100.7/32") {
			t.Errorf("%v: trusted %v %v", args, nets, err)
		}
	}
	if _, err := parseConfig([]string{"--sip-trusted", "10.0.0.300/8"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("a bad CIDR was accepted")
	}
}
