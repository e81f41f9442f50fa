package media

import "sync"

// Caps on concurrent calls per pool and per customer, counted by the engine (issue 15): a pool
// cannot take more lines than it was sized for, and one customer's flood cannot take another's.
// A call counts from the moment its number is known until it ends; one over a cap is refused
// with 486 before it takes anything.

// Defaults for Config.CallsPerPool and Config.CallsPerCustomer.
const (
	DefaultCallsPerPool     = 200
	DefaultCallsPerCustomer = 500
)

type callCaps struct {
	perPool, perCustomer int // 0: no cap

	mu       sync.Mutex
	pool     map[uint]int
	customer map[uint]int
}

func newCallCaps(perPool, perCustomer int) *callCaps {
	pick := func(v, def int) int {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return def
		}
		return v
	}
	return &callCaps{perPool: pick(perPool, DefaultCallsPerPool), perCustomer: pick(perCustomer, DefaultCallsPerCustomer),
		pool: map[uint]int{}, customer: map[uint]int{}}
}

// take counts a call to r, or reports false when its pool or customer is full. release gives
// the place back; call it once.
func (cc *callCaps) take(r Route) (release func(), ok bool) {
	poolCap := cc.perPool
	if r.MaxCalls > 0 {
		poolCap = r.MaxCalls
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if poolCap > 0 && cc.pool[r.PoolID] >= poolCap || cc.perCustomer > 0 && cc.customer[r.CustomerID] >= cc.perCustomer {
		return nil, false
	}
	cc.pool[r.PoolID]++
	cc.customer[r.CustomerID]++
	return func() {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if cc.pool[r.PoolID]--; cc.pool[r.PoolID] <= 0 {
			delete(cc.pool, r.PoolID)
		}
		if cc.customer[r.CustomerID]--; cc.customer[r.CustomerID] <= 0 {
			delete(cc.customer, r.CustomerID)
		}
	}, true
}
