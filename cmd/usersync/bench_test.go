package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	dir := b.TempDir()
	bin := filepath.Join(dir, "usersync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "config.toml")
	err := os.WriteFile(config, fmt.Appendf(nil, `[[ldap]]
name = "dc01"
url = %q
base_dn = %q
bind_dn = %q
bind_password_env = "DC01_PASSWORD"
flavor = "openldap"
allow_insecure = true
page_size = 1000
`, srv.URL, srv.Suffix, srv.BindDN), 0o600)
	if err != nil {
		b.Fatal(err)
	}

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
