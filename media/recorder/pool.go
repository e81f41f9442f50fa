package recorder

import (
	"sync"
	"time"
)

// The writer pool writes every recording's queue to its file. A few goroutines keep up with a
// thousand recordings (a pass is one write of 200 ms or more of audio); a write that blocks
// holds up only the worker inside it, because work that has waited longer than patience while
// no worker is idle gets a new worker (up to maxWorkers, which only a disk stalling for many
// files at once reaches).
const (
	minWorkers = 4
	maxWorkers = 256
	patience   = 50 * time.Millisecond
)

type writerPool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	work    []*Recorder
	since   []time.Time // when each work item was submitted
	workers int
	waiting int // workers waiting for work
}

var pool = newWriterPool()

func newWriterPool() *writerPool {
	p := &writerPool{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *writerPool) submit(r *Recorder) {
	now := time.Now()
	p.mu.Lock()
	p.work = append(p.work, r)
	p.since = append(p.since, now)
	switch {
	case p.waiting > 0:
		p.waiting--
		p.cond.Signal()
	case p.workers < minWorkers || p.workers < maxWorkers && now.Sub(p.since[0]) > patience:
		p.workers++
		go p.worker()
	}
	p.mu.Unlock()
}

func (p *writerPool) worker() {
	p.mu.Lock()
	for {
		for len(p.work) == 0 {
			p.waiting++
			p.cond.Wait()
		}
		r := p.work[0]
		p.work[0] = nil
		p.work, p.since = p.work[1:], p.since[1:]
		p.mu.Unlock()
		r.run()
		p.mu.Lock()
	}
}
