// Package cluster makes one callrec process a node among others on one database and one
// storage: it heartbeats the node's lease, takes over the calls of a node whose lease ran out,
// and carries live calls, start/stop and drain between nodes over HTTP, every request signed
// with the cluster secret.
package cluster

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The headers of a signed request.
const (
	hdrNode  = "X-Callrec-Node"
	hdrTime  = "X-Callrec-Time"
	hdrNonce = "X-Callrec-Nonce"
	hdrSig   = "X-Callrec-Signature"
)

// Window is how far a signed request's time may be from the receiver's clock. A request is
// accepted once within it (its nonce is remembered as long), so a captured request cannot be
// played again; nodes' clocks must agree this well (NTP does far better).
const Window = 30 * time.Second

// maxBody bounds what a node reads of a request or an answer of the internal API.
const maxBody = 4 << 20

// signer signs requests and checks them with the cluster secret.
type signer struct {
	key  []byte
	node string // this node's id, sent with every request
	now  func() time.Time

	mu     sync.Mutex
	nonces map[string]time.Time // seen nonces, until they fall out of the window
	swept  time.Time
}

func newSigner(secret, node string) *signer {
	return &signer{key: []byte(secret), node: node, now: time.Now, nonces: map[string]time.Time{}}
}

// mac is the request's signature: method, path with query, sending node, time, nonce and the
// body's hash, so nothing of the request can be changed or moved to another endpoint.
func (s *signer) mac(method, uri, node, ts, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "callrec-cluster-v1\n%s\n%s\n%s\n%s\n%s\n%x", method, uri, node, ts, nonce, sum)
	return m.Sum(nil)
}

// sign adds the signature headers to req, whose body is body.
func (s *signer) sign(req *http.Request, body []byte) {
	var n [16]byte
	_, _ = rand.Read(n[:])
	nonce := hex.EncodeToString(n[:])
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req.Header.Set(hdrNode, s.node)
	req.Header.Set(hdrTime, ts)
	req.Header.Set(hdrNonce, nonce)
	req.Header.Set(hdrSig, hex.EncodeToString(s.mac(req.Method, req.URL.RequestURI(), s.node, ts, nonce, body)))
}

// Reasons a request is refused; the receiver logs them, the sender sees only 401.
var (
	errUnsigned = errors.New("cluster: request not signed")
	errStale    = errors.New("cluster: request time outside the window")
	errBadSig   = errors.New("cluster: bad signature")
	errReplay   = errors.New("cluster: request seen before")
)

// verify checks a request's signature and freshness and reads its body (at most maxBody). The
// nonce is remembered only after the signature checked, so nobody without the secret can fill
// the memory.
func (s *signer) verify(r *http.Request) ([]byte, string, error) {
	node, ts, nonce, sig := r.Header.Get(hdrNode), r.Header.Get(hdrTime), r.Header.Get(hdrNonce), r.Header.Get(hdrSig)
	if node == "" || ts == "" || len(nonce) != 32 || sig == "" {
		return nil, "", errUnsigned
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, "", errUnsigned
	}
	now := s.now()
	if d := now.Sub(time.Unix(sec, 0)); d > Window || d < -Window {
		return nil, "", errStale
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, "", errUnsigned
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(r.Method, r.URL.RequestURI(), node, ts, nonce, body)) {
		return nil, "", errBadSig
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.swept) > time.Second {
		for n, at := range s.nonces {
			if now.Sub(at) > 2*Window {
				delete(s.nonces, n)
			}
		}
		s.swept = now
	}
	if _, seen := s.nonces[nonce]; seen {
		return nil, "", errReplay
	}
	s.nonces[nonce] = now
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, node, nil
}

// answerMAC signs an answer to the request with nonce: a node that dialled a peer's address
// knows the answer came from a holder of the secret, not from whoever took that address.
func (s *signer) answerMAC(nonce string, status int, body []byte) string {
	return hex.EncodeToString(s.mac("ANSWER", strconv.Itoa(status), "", "", nonce, body))
}

// checkAnswer verifies an answer's signature against the nonce of its request.
func (s *signer) checkAnswer(nonce string, status int, sig string, body []byte) bool {
	got, err := hex.DecodeString(sig)
	want, _ := hex.DecodeString(s.answerMAC(nonce, status, body))
	return err == nil && hmac.Equal(got, want)
}
