package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSnap is the CPU time spent so far, in seconds: this process's (Portal
// in-process and the load client), the Go runtime's estimate of its garbage
// collector's share of it, and the whole machine's (/proc/stat), which
// includes a PostgreSQL server on the same machine.
type cpuSnap struct {
	at              time.Time
	process, gc     float64
	machine, kernel float64
}

// cpuUse is the CPU used over a row, in cores (CPU seconds per second).
type cpuUse struct {
	process, gc, machine, kernel float64
}

func takeCPU() cpuSnap {
	s := cpuSnap{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.process = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	gc := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(gc)
	if gc[0].Value.Kind() == metrics.KindFloat64 {
		s.gc = gc[0].Value.Float64()
	}
	s.machine, s.kernel = procStat()
	return s
}

// since is the CPU used from s to now.
func (s cpuSnap) since() cpuUse {
	t := takeCPU()
	d := t.at.Sub(s.at).Seconds()
	if d <= 0 {
		return cpuUse{}
	}
	return cpuUse{process: (t.process - s.process) / d, gc: (t.gc - s.gc) / d,
		machine: (t.machine - s.machine) / d, kernel: (t.kernel - s.kernel) / d}
}

func (u cpuUse) String() string {
	if u.process == 0 {
		return "—"
	}
	m := ""
	if u.machine > 0 {
		m = fmt.Sprintf(" / %.2f (kernel %.2f)", u.machine, u.kernel)
	}
	return fmt.Sprintf("%.2f (GC %.2f)%s", u.process, u.gc, m)
}

// procStat is the machine's busy and kernel CPU seconds since boot
// (Linux; 0, 0 elsewhere). Busy is all but idle, iowait and steal; kernel is
// system, irq and softirq. The kernel's clock ticks are 1/100 s.
func procStat() (busy, kernel float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal guest guest_nice
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	for i := 1; i <= 8; i++ { // guest time is already in user; steal is not ours
		v, _ := strconv.ParseFloat(f[i], 64)
		switch i {
		case 4, 5, 8:
		case 3, 6, 7:
			kernel += v / 100
			busy += v / 100
		default:
			busy += v / 100
		}
	}
	return busy, kernel
}

// Settling: the first limit sample follows the seeding, whose writes
// PostgreSQL and the kernel may still be flushing (and whose garbage the
// Go runtime has not collected): a sample taken then sets a limit too low,
// and every ratio against it too high. settle collects the garbage, then
// waits until the machine's CPUs were busy less than settleBusy cores over
// a window of settleWindow, at most limit; it returns how long it waited
// and how busy the last window was.
const (
	settleBusy   = 0.2
	settleWindow = 500 * time.Millisecond
)

func settle(limit time.Duration) (waited time.Duration, busy float64) {
	start := time.Now()
	runtime.GC()
	for {
		b0, _ := procStat()
		time.Sleep(settleWindow)
		b1, _ := procStat()
		busy = (b1 - b0) / settleWindow.Seconds()
		if waited = time.Since(start); busy < settleBusy || waited >= limit {
			return waited, busy
		}
	}
}
