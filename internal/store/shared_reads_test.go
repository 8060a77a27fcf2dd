package store

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
)

// stepRead is a read function whose calls each return their number and
// wait for the test to release them.
type stepRead struct {
	mu      sync.Mutex
	calls   int
	started chan int      // receives each call's number as it begins
	release chan struct{} // one value lets one call end
	err     error
}

func newStepRead() *stepRead {
	return &stepRead{started: make(chan int, 100), release: make(chan struct{}, 100)}
}

func (s *stepRead) read(context.Context) (int64, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	s.started <- n
	<-s.release
	return int64(n), s.err
}

// TestSharedReadsNeverEarlier: a caller that arrives while a read runs
// does not get that read's value (it began before the caller, and could
// miss a change committed just before the caller came); it gets the next
// read's, which every caller that arrived meanwhile shares.
func TestSharedReadsNeverEarlier(t *testing.T) {
	var r SharedReads
	s := newStepRead()
	ctx := context.Background()
	first := make(chan int64, 1)
	go func() { n, _ := r.Get(ctx, s.read); first <- n }()
	if n := <-s.started; n != 1 {
		t.Fatalf("first read is call %d", n)
	}
	// 50 callers arrive while read 1 runs.
	const late = 50
	got := make(chan int64, late)
	for range late {
		go func() {
			n, err := r.Get(ctx, s.read)
			if err != nil {
				t.Error(err)
			}
			got <- n
		}()
	}
	// Read 1 ends once all of them wait for the next read.
	for joined := 0; joined < late; {
		runtime.Gosched()
		r.mu.Lock()
		if r.next != nil {
			joined = r.next.callers
		}
		r.mu.Unlock()
	}
	s.release <- struct{}{}
	if n := <-first; n != 1 {
		t.Errorf("the first caller got read %d, want 1", n)
	}
	if n := <-s.started; n != 2 {
		t.Fatalf("second read is call %d", n)
	}
	s.release <- struct{}{}
	for range late {
		if n := <-got; n != 2 {
			t.Errorf("a caller that arrived during read 1 got read %d, want 2 (read 1 began before it)", n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls != 2 {
		t.Errorf("%d reads for 51 callers, want 2", s.calls)
	}
}

// TestSharedReadsError: a failed read fails the callers it serves, and the
// next caller reads again.
func TestSharedReadsError(t *testing.T) {
	var r SharedReads
	s := newStepRead()
	s.err = errors.New("database away")
	s.release <- struct{}{}
	if _, err := r.Get(context.Background(), s.read); err == nil || err.Error() != "database away" {
		t.Errorf("err = %v, want the read's error", err)
	}
	s.err = nil
	s.release <- struct{}{}
	if n, err := r.Get(context.Background(), s.read); err != nil || n != 2 {
		t.Errorf("after a failure: %d, %v, want a new read (2)", n, err)
	}
}
