package recorder

import "sync"

// The writer pool writes every recording's queue to its file. A few goroutines keep up with a
// thousand recordings (a pass is one write of 100 ms or more of audio); a write that blocks
// holds up only the worker inside it, because work arriving while no worker waits for it gets
// a new worker (up to maxWorkers, which only a disk stalling for many files at once reaches).
const maxWorkers = 256

type writerPool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	work    []*Recorder
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
	p.mu.Lock()
	p.work = append(p.work, r)
	if p.waiting > 0 {
		p.waiting--
		p.cond.Signal()
	} else if p.workers < maxWorkers {
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
		p.work = p.work[1:]
		p.mu.Unlock()
		r.run()
		p.mu.Lock()
	}
}
