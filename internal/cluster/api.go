package cluster

import (
	"encoding/json"
	"net/http"
)

// Handler is the node's internal API for its peers, to be served on --cluster-addr only (never
// on the panel's address). Every request must carry a fresh signature made with the cluster
// secret, or it gets 401 and nothing else; every answer is signed in turn.
//
//	GET  /cluster/v1/calls      this node's live calls
//	POST /cluster/v1/recording  start or stop recording a call of this node
//	POST /cluster/v1/changed    a peer's calls of these customers changed (wakes live pages)
//	POST /cluster/v1/drain      drain this node (the Nodes page's button on a peer)
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cluster/v1/calls", func(w http.ResponseWriter, r *http.Request) {
		n.answer(w, r, http.StatusOK, callsBody{Calls: n.cfg.Engine.Calls()})
	})
	mux.HandleFunc("POST /cluster/v1/recording", func(w http.ResponseWriter, r *http.Request) {
		var in recordingBody
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.ID == "" || len(in.By) > 200 {
			n.answer(w, r, http.StatusBadRequest, callBody{Error: "bad_request"})
			return
		}
		info, err := n.local(in.ID, in.By, in.On)
		out := callBody{}
		if info.ID != "" {
			out.Call = &info
		}
		if err != nil {
			out.Error = wireCode(err)
		}
		n.answer(w, r, http.StatusOK, out)
	})
	mux.HandleFunc("POST /cluster/v1/changed", func(w http.ResponseWriter, r *http.Request) {
		var in changedBody
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Customers) > 10000 {
			n.answer(w, r, http.StatusBadRequest, struct{}{})
			return
		}
		n.invalidate(r.Header.Get(hdrNode))
		if n.cfg.Live != nil {
			for _, c := range in.Customers {
				n.cfg.Live(c)
			}
		}
		n.answer(w, r, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /cluster/v1/drain", func(w http.ResponseWriter, r *http.Request) {
		if n.cfg.Drain == nil {
			n.answer(w, r, http.StatusNotImplemented, struct{}{})
			return
		}
		n.log.Warn("drain requested by a peer (the Nodes page)", "peer", r.Header.Get(hdrNode))
		n.cfg.Drain()
		n.answer(w, r, http.StatusOK, struct{}{})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := n.sign.verify(r); err != nil {
			n.log.Warn("internal API request refused", "remote", r.RemoteAddr, "claimed node", r.Header.Get(hdrNode), "path", r.URL.Path, "err", err)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// answer writes a signed JSON answer.
func (n *Node) answer(w http.ResponseWriter, r *http.Request, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(hdrSig, n.sign.answerMAC(r.Header.Get(hdrNonce), status, data))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
