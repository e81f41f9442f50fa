package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"time"
)

// clusterConfig is this node's place in a cluster of nodes on one database and one storage
// (README, "Scale out"): its name, the secret all nodes share, the address of its internal
// API (where the others reach it: live calls, start and stop), and how long a drain may last.
type clusterConfig struct {
	NodeID    string
	Secret    string
	Addr      string // listen address of the internal API; empty: this node runs alone
	Advertise string // the address the other nodes dial; default Addr
	Drain     time.Duration
	// TLS of the internal API (cluster.go clusterTLS): this node's certificate and key, and the
	// CA the peers' certificates must chain to (empty: the system's). Without a certificate the
	// internal API is plain HTTP: signed, not encrypted (README, "Scale out").
	TLSCert, TLSKey, TLSCA string
}

// minSecret is the shortest cluster secret accepted: it is an HMAC key, shared by machines,
// never typed by people.
const minSecret = 16

var nodeIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (c *clusterConfig) flags(fs *flag.FlagSet, env func(key, def string) string) {
	host, _ := os.Hostname()
	fs.StringVar(&c.NodeID, "node-id", env("CALLREC_NODE_ID", host),
		"this node's name in the cluster, kept across restarts (its calls and spooled recordings are found by it); default: the host name (CALLREC_NODE_ID)")
	fs.StringVar(&c.Secret, "cluster-secret", env("CALLREC_CLUSTER_SECRET", ""),
		"secret shared by every node, at least 16 characters: authenticates the requests between nodes; required with --cluster-addr (CALLREC_CLUSTER_SECRET)")
	fs.StringVar(&c.Addr, "cluster-addr", env("CALLREC_CLUSTER_ADDR", ""),
		"host:port of this node's internal API for the other nodes (live calls, start/stop); empty: the node runs alone (CALLREC_CLUSTER_ADDR)")
	fs.StringVar(&c.Advertise, "cluster-advertise", env("CALLREC_CLUSTER_ADVERTISE", ""),
		"host:port the other nodes reach the internal API at; default --cluster-addr (CALLREC_CLUSTER_ADVERTISE)")
	fs.StringVar(&c.TLSCert, "cluster-tls-cert", env("CALLREC_CLUSTER_TLS_CERT", ""),
		"PEM certificate of this node's internal API: it serves TLS and dials its peers over TLS (every node alike); empty: plain HTTP (CALLREC_CLUSTER_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "cluster-tls-key", env("CALLREC_CLUSTER_TLS_KEY", ""),
		"PEM key of --cluster-tls-cert (CALLREC_CLUSTER_TLS_KEY)")
	fs.StringVar(&c.TLSCA, "cluster-tls-ca", env("CALLREC_CLUSTER_TLS_CA", ""),
		"PEM file of the CA the peers' internal API certificates must chain to; empty: the system's CAs (CALLREC_CLUSTER_TLS_CA)")
	fs.DurationVar(&c.Drain, "drain-timeout", envDuration(env("CALLREC_DRAIN_TIMEOUT", ""), 4*time.Hour),
		"after SIGTERM: new calls are refused (503), running calls go on; the node exits when they have ended or after this long (CALLREC_DRAIN_TIMEOUT)")
}

// check validates the cluster flags.
func (c *clusterConfig) check() error {
	if !nodeIDRE.MatchString(c.NodeID) {
		return fmt.Errorf("--node-id %q: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", c.NodeID)
	}
	if c.Drain <= 0 {
		return errors.New("--drain-timeout: must be positive")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--cluster-tls-cert and --cluster-tls-key go together")
	}
	if c.TLSCA != "" && c.TLSCert == "" {
		return errors.New("--cluster-tls-ca needs --cluster-tls-cert and --cluster-tls-key")
	}
	if c.Addr == "" {
		if c.Advertise != "" {
			return errors.New("--cluster-advertise needs --cluster-addr")
		}
		if c.TLSCert != "" {
			return errors.New("--cluster-tls-cert needs --cluster-addr")
		}
		return nil
	}
	if len(c.Secret) < minSecret {
		return fmt.Errorf("--cluster-addr needs --cluster-secret (CALLREC_CLUSTER_SECRET) of at least %d characters, the same on every node", minSecret)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--cluster-addr %q: want host:port", c.Addr)
	}
	if c.Advertise == "" {
		c.Advertise = c.Addr
	}
	host, port, err := net.SplitHostPort(c.Advertise)
	if err != nil || port == "0" || host == "" {
		return fmt.Errorf("--cluster-advertise %q: want the host:port other nodes dial (set it when --cluster-addr listens on all addresses or on port 0)", c.Advertise)
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return fmt.Errorf("--cluster-advertise %q: other nodes cannot dial an unspecified address; name this node's own", c.Advertise)
	}
	return nil
}

// clustered reports whether the node takes part in a cluster.
func (c clusterConfig) clustered() bool { return c.Addr != "" }
