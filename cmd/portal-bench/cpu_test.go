package main

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestSettleWaitsForQuiet: with every CPU kept busy, settle does not call
// the machine quiet; it gives up at its limit and says how busy it was.
func TestSettleWaitsForQuiet(t *testing.T) {
	if b, _ := procStat(); b == 0 {
		t.Skip("no /proc/stat here: settle cannot see the machine")
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for ctx.Err() == nil {
			}
		})
	}
	defer wg.Wait()
	defer stop()
	const limit = 1200 * time.Millisecond
	waited, busy := settle(limit)
	if waited < limit {
		t.Errorf("settle returned after %v with every CPU busy, want it to wait its limit %v", waited, limit)
	}
	if busy < settleBusy {
		t.Errorf("settle saw %.2f cores busy with every CPU spinning, want at least %.1f", busy, settleBusy)
	}
}
