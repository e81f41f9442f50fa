package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

type drainKey struct{}

// signals turns the process's signals into serve's two ways to stop. SIGINT, and a SIGTERM
// during a drain, stop at once: every call is hung up and its recording closed. The first
// SIGTERM starts a drain: new calls are refused (503, so a dispatcher in front sends them to
// other nodes), the calls in progress go on, and serve stops when they have ended or after
// --drain-timeout. That is what a rolling restart sends (systemd, Kubernetes, docker stop).
func signals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	drain := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		draining := false
		for {
			select {
			case s := <-sig:
				if s == syscall.SIGTERM && !draining {
					draining = true
					close(drain)
					continue
				}
				cancel()
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return context.WithValue(ctx, drainKey{}, (<-chan struct{})(drain)), func() { signal.Stop(sig); cancel() }
}

// drainRequested is closed when a drain was asked for; nil (never) when ctx carries none.
func drainRequested(ctx context.Context) <-chan struct{} {
	c, _ := ctx.Value(drainKey{}).(<-chan struct{})
	return c
}
