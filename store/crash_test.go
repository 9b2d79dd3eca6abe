package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// crashUsers is the size of the import the crash test interrupts: 10
// batches of DefaultBatchSize.
const crashUsers = 10 * DefaultBatchSize

// TestHelperProcessApplyLarge is not a test: TestApply_KillDashNineMidway
// runs it in a child process, which applies a large import and reports each
// batch on stdout until it is killed.
func TestHelperProcessApplyLarge(t *testing.T) {
	path := os.Getenv("USERSYNC_TEST_APPLY")
	if path == "" {
		t.Skip("helper process")
	}
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in := Input{Source: "dc01", Actor: "cron", Users: people(crashUsers), Options: allOn}
	_, err = st.Apply(context.Background(), in, func(p Progress) {
		fmt.Printf("batch %d/%d\n", p.Done, p.Total)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestApply_KillDashNineMidway(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessApplyLarge$")
	cmd.Env = append(os.Environ(), "USERSYNC_TEST_APPLY="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it as soon as the third batch is written: the fourth is being
	// written then.
	lines := bufio.NewScanner(out)
	batches := 0
	for batches < 3 && lines.Scan() {
		if strings.HasPrefix(lines.Text(), "batch ") {
			batches++
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if batches < 3 {
		t.Fatalf("the child wrote %d batches before it ended", batches)
	}

	st, err := Open(path, nil)
	if err != nil {
		t.Fatalf("open after kill -9: %v", err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatalf("store inconsistent after kill -9: %v", err)
	}
	runs, err := st.ListRuns()
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs after kill -9: %v %v", runs, err)
	}
	if runs[0].Status != RunInterrupted {
		t.Errorf("the killed run is %s, want interrupted", runs[0].Status)
	}
	// Every batch is wholly in or wholly out.
	n := countUsers(t, st)
	if n == 0 || n%DefaultBatchSize != 0 || n >= crashUsers {
		t.Errorf("%d users after kill -9: not whole batches of %d", n, DefaultBatchSize)
	}
	run, err := st.GetRun(runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Entries) != n || run.Counts.Created != n {
		t.Errorf("the journal holds %d entries (%d created) for %d users", len(run.Entries), run.Counts.Created, n)
	}

	// Running the same import again completes it, without duplicates.
	again, err := st.Apply(context.Background(), Input{Source: "dc01", Users: people(crashUsers), Options: allOn}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Counts.Created != crashUsers-n || again.Counts.Unchanged != n {
		t.Errorf("re-run counts %+v, want %d created and %d unchanged", again.Counts, crashUsers-n, n)
	}
	if got := countUsers(t, st); got != crashUsers {
		t.Errorf("%d users after the re-run, want %d", got, crashUsers)
	}
	if err := st.Check(); err != nil {
		t.Errorf("store inconsistent after the re-run: %v", err)
	}
}
