package store

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
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

// TestSharedReadsGather: a read that follows another waits while callers
// keep joining its batch (each yield brings one more, then one brings
// none), and serves them all; a read that follows none, and one whose
// Gather has passed, begins without waiting.
func TestSharedReadsGather(t *testing.T) {
	r := SharedReads{Gather: time.Hour}
	s := newStepRead()
	ctx := context.Background()
	got := make(chan int64, 10)
	get := func() {
		n, err := r.Get(ctx, s.read)
		if err != nil {
			t.Error(err)
		}
		got <- n
	}
	joined := func(want int) { // waits until the batch to come has want callers
		for {
			r.mu.Lock()
			n := 0
			if r.next != nil {
				n = r.next.callers
			}
			r.mu.Unlock()
			if n == want {
				return
			}
			runtime.Gosched()
		}
	}
	yields := 0
	r.yield = func() {
		yields++
		if yields <= 3 { // a caller arrives during each of the first three yields
			go get()
			joined(1 + yields)
		}
	}

	go get()
	if n := <-s.started; n != 1 {
		t.Fatalf("first read is call %d", n)
	}
	if yields != 0 {
		t.Fatalf("the first read waited (%d yields): no read ran before it", yields)
	}
	go get() // arrives while read 1 runs
	joined(1)
	s.release <- struct{}{}
	if n := <-got; n != 1 {
		t.Errorf("the first caller got read %d, want 1", n)
	}
	if n := <-s.started; n != 2 {
		t.Fatalf("second read is call %d", n)
	}
	if yields != 4 {
		t.Errorf("read 2 began after %d yields, want 4 (three that brought a caller, one that did not)", yields)
	}
	s.release <- struct{}{}
	for range 4 {
		if n := <-got; n != 2 {
			t.Errorf("a caller of the gathered batch got read %d, want 2", n)
		}
	}

	// No read under way: the next caller's read begins at once.
	s.release <- struct{}{}
	get()
	if n := <-got; n != 3 {
		t.Errorf("a caller after the batch got read %d, want 3", n)
	}
	if yields != 4 {
		t.Errorf("a read that followed none waited (%d yields in all, want 4)", yields)
	}

	// Read 5 follows read 4, whose Gather has passed: it begins at once.
	r.Gather = time.Nanosecond
	go get()
	if n := <-s.started; n != 3 { // began, and ended, above
		t.Fatalf("read %d began, want 3", n)
	}
	if n := <-s.started; n != 4 {
		t.Fatalf("read %d began, want 4", n)
	}
	go get()
	joined(1)
	s.release <- struct{}{}
	if n := <-s.started; n != 5 {
		t.Fatalf("read %d began, want 5", n)
	}
	s.release <- struct{}{}
	<-got
	<-got
	if yields != 4 {
		t.Errorf("a read whose Gather had passed waited (%d yields in all, want 4)", yields)
	}
}
