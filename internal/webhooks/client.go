package webhooks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"callrec/models"
)

// Timeout is how long one attempt may take, connection to the answer's end.
const Timeout = 10 * time.Second

// ErrRedirect is an endpoint that answered with a redirect: never followed, since its target
// was never checked and might be inside the network.
var ErrRedirect = errors.New("redirect refused")

// refusedAddr is a connection the guard stopped.
type refusedAddr struct{ addr string }

func (e refusedAddr) Error() string {
	return "refused to connect to " + e.addr + ": not a public address"
}

// NewClient is the HTTP client deliveries use. The address check runs in the dialer's Control,
// on the address actually being connected, after every name resolution: a name that resolves
// to an inside address (or changes to one between checks) is refused. No proxy from the
// environment (it would connect for us, unchecked) and no redirects. allowInsecure permits
// loopback and private networks (tests, private installations); link-local addresses, where
// cloud metadata services live, stay refused.
func NewClient(allowInsecure bool, tlsConfig *tls.Config) *http.Client {
	d := &net.Dialer{Timeout: Timeout, KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			if ip == nil || !models.PublicAddress(ip, allowInsecure) {
				return refusedAddr{address}
			}
			return nil
		}}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: Timeout,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &http.Client{Transport: tr, Timeout: Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// checkURL refuses what the client must never send to, whatever the database says (a row
// written before a policy change): a scheme other than https without allowInsecure.
func checkURL(raw string, allowInsecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowInsecure:
	default:
		return fmt.Errorf("refused: %s:// (https only without --webhook-allow-insecure)", u.Scheme)
	}
	return nil
}

// attemptError is the delivery log's text for a failed attempt.
func attemptError(err error) string {
	var ra refusedAddr
	if errors.As(err, &ra) {
		return ra.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return "timed out after 10 s"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out after 10 s"
	}
	if ue != nil {
		return ue.Err.Error()
	}
	return err.Error()
}
