package spool

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv makes the test binary act as the crashing producer.
const crashChildEnv = "LACHAN_SPOOL_CRASH_CHILD"

func crashPayload(run, i int) []byte {
	return []byte(fmt.Sprintf("run %d record %d %s", run, i, strings.Repeat("p", (run*31+i*7)%300)))
}

// crashChild appends forever with Sync on, printing "A seq run i" after
// each Append returns, "T seq" before each Ack is tried and "K seq" after
// it returns, until killed. A kill between T and K leaves that Ack either
// done or not, so the parent accepts both.
func crashChild(dir string, run int) {
	s, err := Open(Config{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 4 << 10, Sync: true}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	deadline := time.Now().Add(20 * time.Second) // never outlive a broken parent for long
	for i := 0; time.Now().Before(deadline); i++ {
		if err := s.Append(crashPayload(run, i)); err != nil {
			fmt.Fprintln(os.Stderr, "child append:", err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "A %d %d %d\n", s.LastSeq(), run, i)
		out.Flush()
		if i%13 == 12 {
			recs, err := s.Peek(5, 0)
			if err == nil && len(recs) > 0 {
				seq := recs[len(recs)-1].Seq
				fmt.Fprintf(out, "T %d\n", seq)
				out.Flush()
				if s.Ack(seq) == nil {
					fmt.Fprintf(out, "K %d\n", seq)
					out.Flush()
				}
			}
		}
	}
	os.Exit(0)
}

// TestCrash kills a producer at random moments and checks that every
// record whose Append returned is there exactly once, and nothing that was
// acknowledged comes back.
func TestCrash(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		run, _ := strconv.Atoi(os.Getenv(crashChildEnv + "_RUN"))
		crashChild(dir, run)
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	appended := map[uint64][]byte{} // seq → payload of every Append that returned
	var acked, tried uint64         // highest Ack that returned; highest Ack begun
	for run := 0; run < 6; run++ {
		lines := runAndKill(t, dir, run, time.Duration(50+rng.IntN(250))*time.Millisecond)
		for _, l := range lines {
			var seq uint64
			var r, i int
			if n, _ := fmt.Sscanf(l, "A %d %d %d", &seq, &r, &i); n == 3 {
				if _, dup := appended[seq]; dup {
					t.Fatalf("seq %d handed out twice", seq)
				}
				appended[seq] = crashPayload(r, i)
			} else if n, _ := fmt.Sscanf(l, "K %d", &seq); n == 1 {
				acked = max(acked, seq)
			} else if n, _ := fmt.Sscanf(l, "T %d", &seq); n == 1 {
				tried = max(tried, seq)
			}
		}
	}
	if len(appended) == 0 {
		t.Fatal("the child never appended anything")
	}
	s := mustOpen(t, Config{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 4 << 10}, nil)
	recs, err := s.Peek(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, r := range recs {
		if r.Seq <= acked {
			t.Errorf("seq %d came back after Ack(%d) returned", r.Seq, acked)
		}
		if seen[r.Seq] {
			t.Errorf("seq %d stored twice", r.Seq)
		}
		seen[r.Seq] = true
		if want, ok := appended[r.Seq]; ok && !bytes.Equal(r.Data, want) {
			t.Errorf("seq %d = %q, want %q", r.Seq, r.Data, want)
		}
	}
	missing := 0
	for seq := range appended {
		if seq > tried && !seen[seq] {
			missing++
			if missing < 5 {
				t.Errorf("seq %d: Append returned but the record is gone", seq)
			}
		}
	}
	t.Logf("%d appends returned across 6 kills, %d acknowledged (%d tried), %d records left, %d missing", len(appended), acked, tried, len(recs), missing)
}

// runAndKill runs one child for about d, kills it with SIGKILL and returns
// the complete lines it printed.
func runAndKill(t *testing.T, dir string, run int, d time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashChildEnv+"_RUN="+strconv.Itoa(run))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string)
	go func() {
		var lines []string
		r := bufio.NewReader(stdout)
		for {
			l, err := r.ReadString('\n')
			if err != nil { // a line cut by the kill has no newline and is dropped
				if err != io.EOF {
					t.Errorf("read child output: %v", err)
				}
				done <- lines
				return
			}
			lines = append(lines, strings.TrimSuffix(l, "\n"))
		}
	}()
	time.Sleep(d)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	lines := <-done
	cmd.Wait()
	if stderr.Len() > 0 {
		t.Fatalf("child run %d: %s", run, stderr.String())
	}
	return lines
}
