package main

import (
	"io"
	"testing"
	"time"
)

// Every flag has an environment twin; the command line beats the environment, which beats the
// default.
func TestConfigEnvironmentTwins(t *testing.T) {
	env := map[string]string{
		"CALLREC_DATA": "/srv/callrec", "CALLREC_HTTP": "0.0.0.0:80", "CALLREC_SIP": "10.0.0.1:5070",
		"CALLREC_RTP_PORTS": "30000-30999", "CALLREC_PUBLIC_IP": "192.0.2.7", "CALLREC_TRUNK": "sbc:5060",
		"CALLREC_FTP": ":2121", "CALLREC_SFTP": ":2222", "CALLREC_DB": "/db/x.db", "CALLREC_DEMO": "true",
		"CALLREC_UPLOAD_LIMIT": "10MiB", "CALLREC_RING_TIMEOUT": "45s", "CALLREC_FTP_PASSIVE_PORTS": "31000-31010",
		"CALLREC_STORAGE": "s3://recordings/node1", "CALLREC_WEBHOOK_ALLOW_INSECURE": "1", "CALLREC_METRICS": "127.0.0.1:9090",
		"CALLREC_PUBLIC_URL": "https://panel.example.com/", "CALLREC_LINK_VALIDITY": "30m", "CALLREC_SIP_TRUSTED": "10.0.0.0/24",
		"CALLREC_NODE_ID": "node-b", "CALLREC_CLUSTER_ADDR": "0.0.0.0:7001", "CALLREC_CLUSTER_ADVERTISE": "10.0.0.12:7001",
		"CALLREC_CLUSTER_SECRET": "0123456789abcdef0123", "CALLREC_DRAIN_TIMEOUT": "30m",
		"CALLREC_TRUNK_USER": "acct", "CALLREC_TRUNK_PASSWORD": "pw", "CALLREC_TRUNK_REGISTER": "true",
		"CALLREC_TRUNK_REGISTER_EXPIRES": "10m", "CALLREC_TRUNK_TRANSPORT": "tls", "CALLREC_TRUNK_TLS_CA": "/etc/ca.pem",
		"CALLREC_TRUNK_SRTP": "require", "CALLREC_SIP_TLS": ":5061", "CALLREC_SIP_TLS_CERT": "c.pem", "CALLREC_SIP_TLS_KEY": "k.pem",
		"CALLREC_SIP_SESSION_EXPIRES": "15m", "CALLREC_SIP_MIN_SE": "2m",
	}
	getenv := func(k string) string { return env[k] }
	cfg, err := parseConfig(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config{Data: "/srv/callrec", Storage: "s3://recordings/node1", HTTP: "0.0.0.0:80", SIP: "10.0.0.1:5070", RTPPorts: [2]int{30000, 30999},
		PublicIP: "192.0.2.7", Trunk: "sbc:5060", FTP: ":2121", FTPPassive: "31000-31010", SFTP: ":2222", DB: "/db/x.db",
		Demo: true, UploadLimit: 10 << 20, MaxPrompt: 10 * time.Minute, RingTimeout: 45 * time.Second, LogLevel: "info",
		WebhookAllowInsecure: true, Metrics: "127.0.0.1:9090", PublicURL: "https://panel.example.com", LinkValidity: 30 * time.Minute,
		SIPOptions: sipConfig{Trusted: "10.0.0.0/24", Trunk: trunkConfig{User: "acct", Password: "pw", Register: true,
			RegisterExpires: 10 * time.Minute, Transport: "tls", TLSCA: "/etc/ca.pem", SRTP: "require", TLSAddr: ":5061",
			TLSCert: "c.pem", TLSKey: "k.pem", SessionExpires: 15 * time.Minute, MinSE: 2 * time.Minute}},
		Cluster: clusterConfig{NodeID: "node-b", Addr: "0.0.0.0:7001", Advertise: "10.0.0.12:7001", Secret: "0123456789abcdef0123", Drain: 30 * time.Minute}}
	if cfg != want {
		t.Fatalf("from the environment:\n got %+v\nwant %+v", cfg, want)
	}
	cfg, err = parseConfig([]string{"--http", "127.0.0.1:9", "--rtp-ports", "40000-40100", "--demo=false"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != "127.0.0.1:9" || cfg.RTPPorts != [2]int{40000, 40100} || cfg.Demo || cfg.SIP != "10.0.0.1:5070" {
		t.Fatalf("flags should beat the environment: %+v", cfg)
	}
	def, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if def.HTTP != "127.0.0.1:8080" || def.SIP != "127.0.0.1:5060" || def.RTPPorts != [2]int{20000, 29999} || def.Data != "./data" || def.Storage != "file" || def.dbPath() != "data/callrec.db" ||
		def.WebhookAllowInsecure || def.Metrics != "" || def.PublicURL != "http://127.0.0.1:8080" || def.LinkValidity != time.Hour ||
		def.Cluster.clustered() || def.Cluster.Drain != 4*time.Hour || def.Cluster.NodeID == "" {
		t.Fatalf("defaults: %+v", def)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"--rtp-ports", "30000"}, {"--rtp-ports", "9-5"}, {"--rtp-ports", "80-90"}, {"--rtp-ports", "60000-70000"},
		{"--upload-limit", "lots"}, {"--upload-limit", "-5MB"}, {"--ftp-cert", "c.pem"}, {"stray"},
		{"--trusted-proxies", "10.0.0.0/99"}, {"--trusted-proxies", "proxy.example"},
		{"--public-url", "ftp://x"}, {"--public-url", "https://"}, {"--link-validity", "5s"},
		{"--cluster-addr", "10.0.0.1:7001"}, {"--cluster-addr", "10.0.0.1:7001", "--cluster-secret", "short"},
		{"--cluster-addr", "0.0.0.0:7001", "--cluster-secret", "0123456789abcdef"}, {"--cluster-advertise", "10.0.0.1:7001"},
		{"--cluster-addr", "nohost", "--cluster-secret", "0123456789abcdef"}, {"--node-id", "a b"}, {"--node-id", ""},
		{"--node-id", "../x"}, {"--drain-timeout", "0s"},
		{"--cluster-addr", "10.0.0.1:7001", "--cluster-secret", "0123456789abcdef", "--cluster-tls-cert", "c.pem"},
		{"--cluster-addr", "10.0.0.1:7001", "--cluster-secret", "0123456789abcdef", "--cluster-tls-ca", "ca.pem"},
		{"--cluster-tls-cert", "c.pem", "--cluster-tls-key", "k.pem"},
		{"--trunk-transport", "sctp"}, {"--trunk-srtp", "maybe"}, {"--sip-tls", ":5061"}, {"--sip-tls-cert", "c.pem"},
		{"--trunk-register"}, {"--sip-session-expires", "60s", "--sip-min-se", "90s"},
	} {
		if _, err := parseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
