package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// config is serve's configuration. Every flag has an environment twin; a flag given on the
// command line wins over the environment, which wins over the default.
type config struct {
	Data          string
	Storage       string // file, or s3://BUCKET[/PREFIX]
	HTTP          string
	SIP           string
	RTPPorts      [2]int
	PublicIP      string
	Trunk         string
	FTP           string
	FTPPassive    string
	FTPCert       string
	FTPKey        string
	SFTP          string
	DB            string
	Demo          bool
	SecureCookies bool
	UploadLimit   int64
	MaxPrompt     time.Duration
	RingTimeout   time.Duration
	LogLevel      string
	SIPOptions    sipConfig     // --sip-* beyond --sip (sipflags.go)
	Cluster       clusterConfig // --node-id, --cluster-*, --drain-timeout (clusterflags.go)

	// TrustedProxies lists the reverse proxies in front of the panel whose X-Forwarded-For is
	// believed (CIDRs, checked by parseConfig; serve parses them with parseCIDRs).
	TrustedProxies string
	// Webhooks, download links and metrics.
	WebhookAllowInsecure bool
	PublicURL            string // the panel as webhook receivers reach it (download links)
	LinkValidity         time.Duration
	Metrics              string // /metrics address; empty: off
}

// parseConfig reads serve's flags; their defaults come from the environment.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&cfg.Data, "data", env("CALLREC_DATA", "./data"), "data folder: database, recordings, announcements (CALLREC_DATA)")
	fs.StringVar(&cfg.Storage, "storage", env("CALLREC_STORAGE", "file"), "where recordings and announcements are kept: file (the data folder) or s3://BUCKET[/PREFIX] with AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (CALLREC_STORAGE)")
	fs.StringVar(&cfg.HTTP, "http", env("CALLREC_HTTP", "127.0.0.1:8080"), "web UI and API address (CALLREC_HTTP)")
	fs.StringVar(&cfg.SIP, "sip", env("CALLREC_SIP", "127.0.0.1:5060"), "SIP address, UDP and TCP (CALLREC_SIP)")
	ports := fs.String("rtp-ports", env("CALLREC_RTP_PORTS", "20000-29999"), "RTP port range (CALLREC_RTP_PORTS)")
	fs.StringVar(&cfg.PublicIP, "public-ip", env("CALLREC_PUBLIC_IP", ""), "address put into SDP; default: the SIP address's host (CALLREC_PUBLIC_IP)")
	fs.StringVar(&cfg.Trunk, "trunk", env("CALLREC_TRUNK", "127.0.0.1:5080"), "host:port where destination legs go (CALLREC_TRUNK)")
	fs.StringVar(&cfg.FTP, "ftp", env("CALLREC_FTP", ""), "FTPS address; empty: off (CALLREC_FTP)")
	fs.StringVar(&cfg.FTPPassive, "ftp-passive-ports", env("CALLREC_FTP_PASSIVE_PORTS", "30000-30099"), "FTPS passive port range (CALLREC_FTP_PASSIVE_PORTS)")
	fs.StringVar(&cfg.FTPCert, "ftp-cert", env("CALLREC_FTP_CERT", ""), "FTPS certificate (PEM); empty: self-signed, kept in the data folder (CALLREC_FTP_CERT)")
	fs.StringVar(&cfg.FTPKey, "ftp-key", env("CALLREC_FTP_KEY", ""), "FTPS private key (PEM) for --ftp-cert (CALLREC_FTP_KEY)")
	fs.StringVar(&cfg.SFTP, "sftp", env("CALLREC_SFTP", ""), "SFTP address; empty: off (CALLREC_SFTP)")
	fs.StringVar(&cfg.DB, "db", env("CALLREC_DB", ""), "database: a SQLite file or postgres://user:pass@host:port/db?sslmode=...; default DATA/callrec.db (CALLREC_DB)")
	fs.BoolVar(&cfg.Demo, "demo", envBool(env("CALLREC_DEMO", "")), "seed the product document's worked example (CALLREC_DEMO)")
	fs.BoolVar(&cfg.SecureCookies, "secure-cookies", envBool(env("CALLREC_SECURE_COOKIES", "")), "mark cookies Secure: set when served over HTTPS (CALLREC_SECURE_COOKIES)")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", env("CALLREC_TRUSTED_PROXIES", ""), "reverse proxies (CIDR,...) whose X-Forwarded-For names the client; empty: none (CALLREC_TRUSTED_PROXIES)")
	upload := fs.String("upload-limit", env("CALLREC_UPLOAD_LIMIT", "50MB"), "largest accepted upload (CALLREC_UPLOAD_LIMIT)")
	fs.DurationVar(&cfg.MaxPrompt, "max-announcement", envDuration(env("CALLREC_MAX_ANNOUNCEMENT", ""), 10*time.Minute), "longest accepted announcement (CALLREC_MAX_ANNOUNCEMENT)")
	fs.DurationVar(&cfg.RingTimeout, "ring-timeout", envDuration(env("CALLREC_RING_TIMEOUT", ""), 60*time.Second), "how long the destination may ring (CALLREC_RING_TIMEOUT)")
	fs.StringVar(&cfg.LogLevel, "log-level", env("CALLREC_LOG_LEVEL", "info"), "debug, info, warn or error (CALLREC_LOG_LEVEL)")
	cfg.SIPOptions.flags(fs, env)
	cfg.Cluster.flags(fs, env)
	fs.BoolVar(&cfg.WebhookAllowInsecure, "webhook-allow-insecure", envBool(env("CALLREC_WEBHOOK_ALLOW_INSECURE", "")), "let webhook endpoints use http:// and loopback or private addresses: tests and private networks (CALLREC_WEBHOOK_ALLOW_INSECURE)")
	fs.StringVar(&cfg.PublicURL, "public-url", env("CALLREC_PUBLIC_URL", ""), "the panel's URL as webhook receivers reach it, for download links; default http:// and --http (CALLREC_PUBLIC_URL)")
	fs.DurationVar(&cfg.LinkValidity, "link-validity", envDuration(env("CALLREC_LINK_VALIDITY", ""), time.Hour), "how long a webhook's signed download link works (CALLREC_LINK_VALIDITY)")
	fs.StringVar(&cfg.Metrics, "metrics", env("CALLREC_METRICS", ""), "address serving /metrics for Prometheus; empty: off (CALLREC_METRICS)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.RTPPorts, err = parsePorts(*ports); err != nil {
		return cfg, err
	}
	if _, err = parseCIDRs(cfg.TrustedProxies); err != nil {
		return cfg, err
	}
	if cfg.UploadLimit, err = parseSize(*upload); err != nil {
		return cfg, err
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + cfg.HTTP
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("--public-url %q: want http(s)://host[:port][/path]", cfg.PublicURL)
	}
	if cfg.LinkValidity < time.Minute {
		return cfg, fmt.Errorf("--link-validity %s: at least 1m", cfg.LinkValidity)
	}
	if err := cfg.SIPOptions.Trunk.check(); err != nil {
		return cfg, err
	}
	if err := cfg.SIPOptions.checkTrust(cfg.SIP); err != nil {
		return cfg, err
	}
	if err := cfg.Cluster.check(); err != nil {
		return cfg, err
	}
	if (cfg.FTPCert == "") != (cfg.FTPKey == "") {
		return cfg, fmt.Errorf("--ftp-cert and --ftp-key go together")
	}
	return cfg, nil
}

func envBool(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}

func envInt(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func envDuration(s string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s); err == nil {
		return d
	}
	return def
}

// parsePorts reads "20000-29999".
func parsePorts(s string) ([2]int, error) {
	lo, hi, ok := strings.Cut(s, "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || a < 1024 || b > 65535 || a > b || b-a < 3 {
		return [2]int{}, fmt.Errorf("port range %q: want LOW-HIGH within 1024-65535", s)
	}
	return [2]int{a, b}, nil
}

// parseCIDRs reads "10.0.0.5/32,192.168.1.0/24"; a bare address is that one host.
func parseCIDRs(s string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			if ip := net.ParseIP(f); ip != nil && ip.To4() != nil {
				f += "/32"
			} else {
				f += "/128"
			}
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %q is no address or CIDR range", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseSize reads "50MB", "10MiB", "1000000".
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a number like 50MB", s)
	}
	return n * mult, nil
}

func (c *config) dbPath() string {
	if c.DB != "" {
		return c.DB
	}
	return filepath.Join(c.Data, "callrec.db")
}
