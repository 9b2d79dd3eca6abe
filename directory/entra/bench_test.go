package entra_test

import (
	"context"
	"testing"
	"time"

	"github.com/usersync/usersync/directory/entra"
	"github.com/usersync/usersync/directory/entra/graphtest"
)

// BenchmarkReadGroup10k reads a 10,000-member group through the real SDK
// from the test server with 20 ms of latency added to every Graph request,
// and reports the requests one read makes: the goal is ceil(10000/999) = 11
// pages plus a constant (the group itself).
//
//	go test -run '^$' -bench ReadGroup10k -benchtime 5x ./directory/entra/
func BenchmarkReadGroup10k(b *testing.B) {
	const members = 10000
	tenant := graphtest.Generate(members)
	srv := startServer(b, tenant, graphtest.Options{})
	d := open(b, srv, entra.Options{})
	srv.SetLatency(20 * time.Millisecond)
	id := tenant.GroupByName(graphtest.LargeGroupName).ID
	ctx := context.Background()
	srv.ResetCounters()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		read, err := d.ReadGroup(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if len(read.Members) != members {
			b.Fatalf("members = %d, want %d", len(read.Members), members)
		}
	}
	b.StopTimer()
	perOp := float64(srv.Requests()) / float64(b.N)
	b.ReportMetric(perOp, "requests/op")
	b.ReportMetric(float64(srv.TokenRequests())/float64(b.N), "sign-in-requests/op")
	if limit := float64((members+998)/999 + 1); perOp > limit {
		b.Errorf("%.1f requests per read, more than ceil(members/999)+1 = %.0f", perOp, limit)
	}
}
