package main

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/usersync/usersync/directory/ldap/slapdtest"
)

// BenchmarkImportLDAP100k is the end-to-end figure on lean entries: 100k
// users with 7 attributes in a local slapd imported by the real binary
// (`usersync import ldap ... --yes`) into an empty store, timed beside
// ldapsearch dumping the same entries with the paged-results control in the
// same run. It reports both times, their ratio and the binary's peak RSS.
func BenchmarkImportLDAP100k(b *testing.B) {
	data := slapdtest.NewData(slapdtest.DefaultSuffix)
	data.AddUsers(100_000, "u", "")
	benchmarkImport(b, data, 100_000, "(uid=*)",
		[]string{"uid", "cn", "givenName", "sn", "displayName", "mail", "entryUUID"})
}

// BenchmarkImportLDAPRealistic is the same on entries as a real directory
// holds them: inetOrgPerson + posixAccount users with 12 attributes and
// memberOf, in 200 groups, imported with
// `usersync import ldap --query '(objectClass=inetOrgPerson)' --select all --yes`
// beside ldapsearch dumping every attribute of the same entries. Goals:
// ratio ≤ 2.0 and peak RSS ≤ 150 MB at 100k. The 300k size runs when
// USERSYNC_BENCH_300K=1 (its slapadd alone takes a minute):
//
//	go test -run '^$' -bench ImportLDAPRealistic -benchtime 3x ./cmd/usersync/
func BenchmarkImportLDAPRealistic(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if os.Getenv("USERSYNC_BENCH_300K") == "1" {
		sizes = append(sizes, 300_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			data := slapdtest.NewData(slapdtest.DefaultSuffix)
			data.AddRealisticUsers(n, 200)
			benchmarkImport(b, data, n, "(objectClass=inetOrgPerson)", nil)
		})
	}
}

// benchmarkImport loads data into a slapd, then times the binary importing
// what query finds (n users) beside ldapsearch dumping it (attrs, or every
// attribute when nil).
func benchmarkImport(b *testing.B, data *slapdtest.Data, n int, query string, attrs []string) {
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		b.Skip("ldapsearch is not installed (Debian package ldap-utils; make bench installs it)")
	}
	slapdtest.Require(b)
	srv := slapdtest.Start(b, slapdtest.Options{Data: data})

	// The benchmark measures the binary as shipped: no race detector.
	dir, bin, config := benchSetup(b, srv, `page_size = 1000`)

	var importTime, dumpTime time.Duration
	var peakRSS int64
	for i := 0; b.Loop(); i++ {
		// ldapsearch, as an admin would dump the same users.
		args := append([]string{"-x", "-LLL", "-H", srv.URL, "-D", srv.BindDN, "-w", srv.BindPassword,
			"-b", srv.Suffix, "-E", "pr=1000/noprompt", query}, attrs...)
		dump := exec.Command("ldapsearch", args...)
		var dumpOut bytes.Buffer
		dump.Stdout = &dumpOut
		start := time.Now()
		if err := dump.Run(); err != nil {
			b.Fatalf("ldapsearch: %v", err)
		}
		dumpTime += time.Since(start)
		if got := bytes.Count(dumpOut.Bytes(), []byte("\ndn: ")) + 1; got < n {
			b.Fatalf("ldapsearch dumped %d entries, want %d", got, n)
		}

		store := filepath.Join(dir, fmt.Sprintf("store-%d.db", i))
		imp := exec.Command(bin, "import", "ldap", "--server", "dc01", "--query", query, "--select", "all", "--enable", "--yes")
		imp.Env = append(os.Environ(), "USERSYNC_CONFIG="+config, "USERSYNC_STORE="+store, "DC01_PASSWORD="+srv.BindPassword)
		var stderr bytes.Buffer
		imp.Stderr = &stderr
		start = time.Now()
		if err := imp.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- imp.Wait() }()
		// The peak RSS is read from /proc (VmHWM, the high-water mark of
		// the process's own memory since exec) while it runs: the kernel's
		// ru_maxrss would also count this process's memory at the fork.
		var hwm int64
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					b.Fatalf("import: %v\n%s", err, stderr.Bytes())
				}
				break wait
			case <-time.After(10 * time.Millisecond):
				hwm = max(hwm, vmHWM(imp.Process.Pid))
			}
		}
		importTime += time.Since(start)
		peakRSS = max(peakRSS, hwm)
		b.StopTimer()
		if i == 0 {
			checkImported(b, bin, config, store, n)
		}
		os.Remove(store)
		b.StartTimer()
	}
	b.ReportMetric(importTime.Seconds()/float64(b.N), "import-s")
	b.ReportMetric(dumpTime.Seconds()/float64(b.N), "ldapsearch-s")
	b.ReportMetric(float64(importTime)/float64(dumpTime), "ratio")
	b.ReportMetric(float64(peakRSS)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(n)*float64(b.N)/importTime.Seconds(), "users/s")
}

// checkImported fails the benchmark unless the store holds n users.
func checkImported(b *testing.B, bin, config, store string, n int) {
	b.Helper()
	cmd := exec.Command(bin, "users", "list", "--json")
	cmd.Env = append(os.Environ(), "USERSYNC_CONFIG="+config, "USERSYNC_STORE="+store)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("users list: %v", err)
	}
	if got := bytes.Count(out, []byte(`"username"`)); got != n {
		b.Fatalf("the store holds %d users, want %d", got, n)
	}
}

// benchSetup builds the binary as shipped (no race detector) into a
// scratch directory and writes a configuration naming srv as dc01 (with
// more lines of its section); it returns the directory, the binary and the
// configuration's path.
func benchSetup(b *testing.B, srv *slapdtest.Server, more ...string) (dir, bin, config string) {
	b.Helper()
	dir = b.TempDir()
	bin = filepath.Join(dir, "usersync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	config = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(config, []byte(ldapSection("dc01", srv.URL, srv, more...)), 0o600); err != nil {
		b.Fatal(err)
	}
	return dir, bin, config
}

// vmHWM is the peak resident set of a running process in KiB (0 once it
// has exited).
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}

// BenchmarkSyncIncremental100k: 100k realistic users in 200 groups in a
// slapd with the syncprov overlay, imported and synchronized once (which
// takes the change-feed cookie); then, each round, 20 users change (mail,
// membership, one disabled, one deleted) and `sync --all --yes` reads only
// the changes, timed beside `sync --all --full --yes` reading everything in
// the same round. Goal: the incremental sync within 5% of the full one.
//
//	go test -run '^$' -bench SyncIncremental100k -benchtime 3x ./cmd/usersync/
func BenchmarkSyncIncremental100k(b *testing.B) {
	slapdtest.Require(b)
	data := slapdtest.NewData(slapdtest.DefaultSuffix)
	dns := data.AddRealisticUsers(100_000, 200)
	srv := slapdtest.Start(b, slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: 100_000}})
	dir, bin, config := benchSetup(b, srv, `page_size = 1000`, `timeout = "60s"`, `[ldap.attributes]`, `disabled = "employeeType"`)
	env := append(os.Environ(), "USERSYNC_CONFIG="+config, "USERSYNC_STORE="+filepath.Join(dir, "store.db"), "DC01_PASSWORD="+srv.BindPassword)
	usersync := func(args ...string) ([]byte, time.Duration) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("usersync %v: %v\n%s", args, err, stderr.Bytes())
		}
		return out, time.Since(start)
	}
	usersync("import", "ldap", "--server", "dc01", "--query", "(objectClass=groupOfNames)", "--select", "all", "--enable", "--yes")
	usersync("sync", "--all", "--yes")

	conn := srv.Conn(b)
	var incr, full time.Duration
	var reads int
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		// 20 users change: 17 mails, a membership, one disabled, one deleted.
		base := 1000 + i*100
		for k := range 17 {
			mod := goldap.NewModifyRequest(dns[base+k], nil)
			mod.Replace("mail", []string{fmt.Sprintf("changed%d-%d@corp.example.com", i, k)})
			if err := conn.Modify(mod); err != nil {
				b.Fatal(err)
			}
		}
		grp := goldap.NewModifyRequest(fmt.Sprintf("cn=team%03d,%s", i%200, data.GroupsDN()), nil)
		grp.Add("member", []string{dns[base+17]})
		if err := conn.Modify(grp); err != nil {
			b.Fatal(err)
		}
		dis := goldap.NewModifyRequest(dns[base+18], nil)
		dis.Replace("employeeType", []string{"TRUE"})
		if err := conn.Modify(dis); err != nil {
			b.Fatal(err)
		}
		if err := conn.Del(goldap.NewDelRequest(dns[base+19], nil)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		out, d := usersync("sync", "--all", "--yes", "--json")
		incr += d
		if !bytes.Contains(out, []byte(`"mode":"incremental"`)) {
			b.Fatalf("the sync did not read incrementally:\n%.500s", out)
		}
		if m := regexp.MustCompile(`read incrementally: (\d+) entries`).FindSubmatch(out); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			reads = max(reads, n)
		}
		b.StopTimer()
		_, d = usersync("sync", "--all", "--full", "--yes")
		full += d
		b.StartTimer()
	}
	b.ReportMetric(incr.Seconds()/float64(b.N), "incremental-s")
	b.ReportMetric(full.Seconds()/float64(b.N), "full-s")
	b.ReportMetric(100*float64(incr)/float64(full), "incremental-%")
	b.ReportMetric(float64(reads), "entries-read")
}

// BenchmarkWatchLatency: `usersync sync --all --watch --interval 200ms`
// runs against a slapd with syncprov (10k users in 20 groups); each round
// of the benchmark changes a user's mail in slapd and measures how long it
// takes to show in the store (read with `users show`, as another process
// would). Goal: within 2 s.
//
// With USERSYNC_BENCH_BASELINE naming another usersync binary (an earlier
// build), the same rounds also run against it — its own store, its own
// watch, the same slapd, turn about — and the benchmark reports its
// latency and the ratio of the two:
//
//	go build -o /tmp/usersync-main ./cmd/usersync   # on main
//	USERSYNC_BENCH_BASELINE=/tmp/usersync-main go test -run '^$' -bench WatchLatency -benchtime 10x ./cmd/usersync/
//
// USERSYNC_BENCH_INTERVAL sets the watches' --interval (default 200ms;
// the service's default is 30s, which only polled directories wait for).
func BenchmarkWatchLatency(b *testing.B) {
	slapdtest.Require(b)
	data := slapdtest.NewData(slapdtest.DefaultSuffix)
	dns := data.AddRealisticUsers(10_000, 20)
	srv := slapdtest.Start(b, slapdtest.Options{Data: data, SyncProv: &slapdtest.SyncProv{SessionLog: 10_000}})
	dir, bin, config := benchSetup(b, srv)
	interval := cmp.Or(os.Getenv("USERSYNC_BENCH_INTERVAL"), "200ms")
	type subject struct {
		bin string
		env []string
		// total and worst latency
		total, worst time.Duration
	}
	run := func(s *subject, args ...string) []byte {
		cmd := exec.Command(s.bin, args...)
		cmd.Env = s.env
		out, _ := cmd.Output()
		return out
	}
	start := func(bin, storeDir string) *subject {
		s := &subject{bin: bin, env: append(os.Environ(), "USERSYNC_CONFIG="+config, "USERSYNC_STORE="+filepath.Join(storeDir, "store.db"), "DC01_PASSWORD="+srv.BindPassword)}
		run(s, "import", "ldap", "--server", "dc01", "--query", "(objectClass=groupOfNames)", "--select", "all", "--enable", "--yes")
		run(s, "sync", "--all", "--yes")
		watch := exec.Command(bin, "sync", "--all", "--watch", "--interval", interval)
		watch.Env = s.env
		if err := watch.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { watch.Process.Signal(os.Interrupt); watch.Wait() })
		return s
	}
	subjects := []*subject{start(bin, dir)}
	if base := os.Getenv("USERSYNC_BENCH_BASELINE"); base != "" {
		subjects = append(subjects, start(base, b.TempDir()))
	}
	time.Sleep(time.Second) // the watches start
	conn := srv.Conn(b)
	for i := 0; b.Loop(); i++ {
		for k, s := range subjects {
			mail := fmt.Sprintf("watched%d.%d@corp.example.com", i, k)
			mod := goldap.NewModifyRequest(dns[i], nil)
			mod.Replace("mail", []string{mail})
			start := time.Now()
			if err := conn.Modify(mod); err != nil {
				b.Fatal(err)
			}
			for !bytes.Contains(run(s, "users", "show", fmt.Sprintf("user%06d", i), "--json"), []byte(mail)) {
				if time.Since(start) > 30*time.Second {
					b.Fatalf("the change to user%06d never reached the store of %s", i, s.bin)
				}
				time.Sleep(20 * time.Millisecond)
			}
			d := time.Since(start)
			s.total += d
			s.worst = max(s.worst, d)
		}
	}
	b.ReportMetric(subjects[0].total.Seconds()/float64(b.N), "latency-s")
	b.ReportMetric(subjects[0].worst.Seconds(), "worst-s")
	if len(subjects) > 1 {
		base := subjects[1]
		b.ReportMetric(base.total.Seconds()/float64(b.N), "baseline-latency-s")
		b.ReportMetric(base.worst.Seconds(), "baseline-worst-s")
		b.ReportMetric(float64(subjects[0].total)/float64(base.total), "latency-ratio")
	}
}
