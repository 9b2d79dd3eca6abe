package store

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
)

// The store's speed target: 100k users applied in well under a second of
// store time (~10 µs a user), with batched write transactions.

const benchUsers = 100_000

// reportPeak adds the process's peak resident set size to the results.
func reportPeak(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}

func BenchmarkApply100kNew(b *testing.B) {
	users := people(benchUsers)
	in := Input{Source: "dc01", Users: users, Options: allOn}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		st, err := Open(filepath.Join(b.TempDir(), "users.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		run, err := st.Apply(context.Background(), in, nil)
		b.StopTimer()
		if err != nil || run.Counts.Created != benchUsers {
			b.Fatalf("apply: %v %+v", err, run)
		}
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchUsers), "ns/user")
	reportPeak(b)
}

func BenchmarkApply100kUnchanged(b *testing.B) {
	users := people(benchUsers)
	in := Input{Source: "dc01", Users: users, Options: allOn}
	st, err := Open(filepath.Join(b.TempDir(), "users.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Apply(context.Background(), in, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run, err := st.Apply(context.Background(), in, nil)
		if err != nil || run.Counts.Unchanged != benchUsers {
			b.Fatalf("apply: %v %+v", err, run)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchUsers), "ns/user")
	reportPeak(b)
}
