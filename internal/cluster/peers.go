package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"callrec/media"
	"callrec/models"
)

// peer is another node, with the last list of its calls.
type peer struct {
	id, addr string

	mu      sync.Mutex // one fetch at a time; the others wait for its result
	calls   []media.CallInfo
	fetched time.Time
	stale   bool // the peer said its calls changed since the fetch
}

// peerCallsFresh is how long a peer's list of calls is used without asking again when the peer
// has not said it changed: its wake-ups normally say so, this bounds a lost one.
const peerCallsFresh = time.Second

// peerCallsTimeout bounds how long a live page waits for one peer: a slow or lost peer's
// calls are left out rather than holding every page.
const peerCallsTimeout = time.Second

// peerCallsKeep is how long a peer's last list stands in for the peer when it is slow to
// answer (a loaded machine: its calls vanishing from every page for a moment is worse than a
// list a moment old). A peer that refuses the connection is gone: its list goes at once.
const peerCallsKeep = 5 * time.Second

// controlTimeout is how long start/stop of a call on a peer may take before it answers
// node_unavailable.
const controlTimeout = 900 * time.Millisecond

// Wire bodies of the internal API.
type (
	changedBody struct {
		Customers []uint `json:"customers"`
	}
	callsBody struct {
		Calls []media.CallInfo `json:"calls"`
	}
	recordingBody struct {
		ID string `json:"id"`
		By string `json:"by"`
		On bool   `json:"on"`
	}
	callBody struct {
		Call  *media.CallInfo `json:"call,omitempty"`
		Error string          `json:"error,omitempty"`
	}
)

// The engine's refusals as they travel between nodes.
var wireErrors = map[string]error{
	"no_such_call":         media.ErrNoSuchCall,
	"caller_objected":      media.ErrCallerObjected,
	"recording_not_booked": media.ErrRecordingNotBooked,
	"callee_interrupted":   media.ErrCalleeInterrupted,
}

func wireCode(err error) string {
	for code, e := range wireErrors {
		if errors.Is(err, e) {
			return code
		}
	}
	return "internal"
}

// errPeer is a peer that did not answer as it should.
type errPeer struct {
	id  string
	err error
}

func (e errPeer) Error() string { return fmt.Sprintf("cluster: node %s: %v", e.id, e.err) }
func (e errPeer) Unwrap() error { return e.err }

// call sends a signed request to p and decodes its signed answer into out (when not nil).
func (n *Node) call(ctx context.Context, p *peer, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, n.scheme+p.addr+path, bytes.NewReader(body))
	if err != nil {
		return errPeer{p.id, err}
	}
	req.Header.Set("Content-Type", "application/json")
	n.sign.sign(req, body)
	res, err := n.client.Do(req)
	if err != nil {
		return errPeer{p.id, err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil || len(data) > maxBody {
		return errPeer{p.id, fmt.Errorf("reading the answer: %v", err)}
	}
	if !n.sign.checkAnswer(req.Header.Get(hdrNonce), res.StatusCode, res.Header.Get(hdrSig), data) {
		return errPeer{p.id, fmt.Errorf("answer %d not signed with the cluster secret", res.StatusCode)}
	}
	if res.StatusCode != http.StatusOK {
		return errPeer{p.id, fmt.Errorf("answer %d", res.StatusCode)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return errPeer{p.id, err}
		}
	}
	return nil
}

// peerCalls is p's list of calls: cached while fresh, else fetched (nil when p does not answer).
func (n *Node) peerCalls(p *peer) []media.CallInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stale && time.Since(p.fetched) < peerCallsFresh {
		return p.calls
	}
	ctx, cancel := context.WithTimeout(context.Background(), peerCallsTimeout)
	defer cancel()
	var got callsBody
	if err := n.call(ctx, p, http.MethodGet, "/cluster/v1/calls", nil, &got); err != nil {
		n.log.Debug("a peer's live calls", "peer", p.id, "err", err)
		var ne net.Error
		if slow := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()); slow && time.Since(p.fetched) < peerCallsKeep {
			p.stale = true // asked again next time
			return p.calls
		}
		p.calls, p.fetched, p.stale = nil, time.Time{}, true
		return nil
	}
	p.calls, p.fetched, p.stale = got.Calls, time.Now(), false
	return p.calls
}

// Calls is every node's live calls, oldest first: this node's and those of each live peer
// that answers in time.
func (n *Node) Calls() []media.CallInfo {
	out := n.cfg.Engine.Calls()
	peers := *n.peers.Load()
	if len(peers) == 0 {
		return out
	}
	lists := make([][]media.CallInfo, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() { defer wg.Done(); lists[i] = n.peerCalls(p) }()
	}
	wg.Wait()
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Arrival.Before(out[j].Arrival) })
	return out
}

// StartRecording starts recording the call with engine id on whichever node holds it.
func (n *Node) StartRecording(id, by string) (media.CallInfo, error) {
	return n.setRecording(id, by, true)
}

// StopRecording stops recording the call with engine id on whichever node holds it.
func (n *Node) StopRecording(id, by string) (media.CallInfo, error) {
	return n.setRecording(id, by, false)
}

func (n *Node) local(id, by string, on bool) (media.CallInfo, error) {
	if on {
		return n.cfg.Engine.StartRecording(id, by)
	}
	return n.cfg.Engine.StopRecording(id, by)
}

// setRecording runs start/stop here when the call is here, else on the node the database names
// for it. A node that is not live or does not answer within controlTimeout is
// models.ErrNodeUnavailable.
func (n *Node) setRecording(id, by string, on bool) (media.CallInfo, error) {
	if _, ok := n.cfg.Engine.Call(id); ok {
		return n.local(id, by, on)
	}
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	node, err := n.cfg.Store.CallNode(ctx, id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return media.CallInfo{}, media.ErrNoSuchCall
	case err != nil:
		return media.CallInfo{}, err
	case node == n.cfg.NodeID || node == "":
		return n.local(id, by, on) // ended meanwhile: the engine says so
	}
	p := n.peer(node)
	if p == nil {
		return media.CallInfo{}, models.ErrNodeUnavailable.With("node " + node + " is not running")
	}
	var got callBody
	if err := n.call(ctx, p, http.MethodPost, "/cluster/v1/recording", recordingBody{ID: id, By: by, On: on}, &got); err != nil {
		n.log.Warn("start/stop on a peer", "peer", p.id, "call", id, "err", err)
		return media.CallInfo{}, models.ErrNodeUnavailable.With("node " + node + " does not answer")
	}
	n.invalidate(p.id)
	if got.Error != "" {
		e, ok := wireErrors[got.Error]
		if !ok {
			e = fmt.Errorf("cluster: node %s: %s", node, got.Error)
		}
		if got.Call != nil {
			return *got.Call, e
		}
		return media.CallInfo{}, e
	}
	if got.Call == nil {
		return media.CallInfo{}, errPeer{node, errors.New("answer without the call")}
	}
	return *got.Call, nil
}

// invalidate drops a peer's cached calls: it said they changed.
func (n *Node) invalidate(id string) {
	n.mu.Lock()
	p := n.known[id]
	n.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		p.stale = true
		p.mu.Unlock()
	}
}

// ErrUnknownNode is DrainNode's answer for a node that is not live.
var ErrUnknownNode = errors.New("cluster: no such live node")

// DrainNode starts the drain of node id: this one, or a live peer.
func (n *Node) DrainNode(ctx context.Context, id string) error {
	if id == n.cfg.NodeID {
		if n.cfg.Drain == nil {
			return errors.New("cluster: this node cannot drain")
		}
		n.cfg.Drain()
		return nil
	}
	p := n.peer(id)
	if p == nil {
		return ErrUnknownNode
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return n.call(ctx, p, http.MethodPost, "/cluster/v1/drain", struct{}{}, nil)
}
