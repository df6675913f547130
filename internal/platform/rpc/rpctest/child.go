package rpctest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// addrPrefix starts the line on which a child process started by
// StartChild prints the address it serves on.
const addrPrefix = "listening on "

// lineTimeout is how long the parent waits for a line of a child's stdout.
const lineTimeout = 10 * time.Second

// ServeChild is the child's side of StartChild, called from the TestMain
// of a test binary started as a child (see StartChild): it listens on
// 127.0.0.1 at a free port, prints "listening on ADDR" on a line of
// stdout, and calls run with that listener and a context that is done on
// SIGTERM or an interrupt. It returns the exit code for os.Exit: 0 when run
// returns nil, and 1 (the error printed to stderr) when listening or run
// fails. run may print more lines to stdout, for the parent to read with
// (*Child).Line.
func ServeChild(run func(ctx context.Context, lis net.Listener) error) int {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s%s\n", addrPrefix, lis.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, lis); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// Child is a test binary running as a child process of its test, as
// started by StartChild: typically a service that the test kills with
// SIGKILL and starts again.
type Child struct {
	cmd    *exec.Cmd
	exited chan struct{}  // closed once the process has exited
	read   sync.WaitGroup // the readers of its stdout and stderr
	out    chan string    // the lines of its stdout
	logs   chan string    // the lines of its stderr

	mu     sync.Mutex
	stderr strings.Builder // all it wrote to stderr
}

// StartChild starts the running test binary again as a child process,
// with no tests to run and env ("NAME=value") added to its environment:
// its TestMain is expected to see env and call ServeChild. StartChild
// waits for the child's "listening on ADDR" line and returns the child and
// ADDR. The child is killed with SIGKILL when the test ends, and what it
// wrote to stderr is logged if the test failed.
func StartChild(tb testing.TB, env ...string) (*Child, string) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	c := &Child{cmd: cmd, exited: make(chan struct{}), out: make(chan string, 16), logs: make(chan string, 1000)}
	stdout, err := c.pipe(&cmd.Stdout)
	if err != nil {
		tb.Fatal(err)
	}
	stderr, err := c.pipe(&cmd.Stderr)
	if err != nil {
		stdout.Close()
		tb.Fatal(err)
	}
	err = cmd.Start()
	// The child has its own copies of the pipes' write ends: closing
	// ours makes the readers see the end when it exits.
	cmd.Stdout.(*os.File).Close()
	cmd.Stderr.(*os.File).Close()
	if err != nil {
		stdout.Close()
		stderr.Close()
		tb.Fatal(err)
	}
	go func() {
		cmd.Wait() //nolint:errcheck // it is killed on purpose
		close(c.exited)
	}()
	c.read.Add(2)
	go c.readLines(stdout, c.out, nil)
	go c.readLines(stderr, c.logs, &c.stderr)
	tb.Cleanup(func() {
		c.Kill() //nolint:errcheck // it may have exited already
		if tb.Failed() {
			c.mu.Lock()
			defer c.mu.Unlock()
			tb.Logf("the child process %s wrote to stderr:\n%s", strings.Join(env, " "), c.stderr.String())
		}
	})
	line := c.Line(tb)
	addr, ok := strings.CutPrefix(line, addrPrefix)
	if !ok {
		tb.Fatalf("the child process printed %q, want %q and its address", line, addrPrefix)
	}
	return c, addr
}

// pipe makes a pipe, sets *w to its write end and returns its read end.
func (c *Child) pipe(w *io.Writer) (*os.File, error) {
	r, wf, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	*w = wf
	return r, nil
}

// readLines sends each line of r to lines, dropping it when lines is
// full, and appends it to all if all is not nil, until r ends; then it
// closes r and lines.
func (c *Child) readLines(r *os.File, lines chan<- string, all *strings.Builder) {
	defer c.read.Done()
	defer close(lines)
	defer r.Close()
	scan := bufio.NewScanner(r)
	scan.Buffer(nil, 1<<20)
	for scan.Scan() {
		if all != nil {
			c.mu.Lock()
			all.WriteString(scan.Text() + "\n")
			c.mu.Unlock()
		}
		select {
		case lines <- scan.Text():
		default: // nobody reads: drop it
		}
	}
}

// Line returns the next line the child printed on stdout (after the
// address line, the lines run of ServeChild prints), failing the test if
// there is none within 10 seconds or the child exits first. Lines are
// dropped when more than 16 wait unread.
func (c *Child) Line(tb testing.TB) string {
	tb.Helper()
	select {
	case line, ok := <-c.out:
		if !ok {
			tb.Fatal("the child process exited before it printed the line wanted")
		}
		return line
	case <-time.After(lineTimeout):
		tb.Fatalf("the child process printed no line within %v", lineTimeout)
	}
	return ""
}

// Logs returns the lines the child writes to stderr, as it writes them;
// the channel is closed once it has exited. A line is dropped when more
// than 1000 wait unread.
func (c *Child) Logs() <-chan string { return c.logs }

// Pid returns the child's process id, for a test that reads what the
// system says of it, such as its memory.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Kill kills the child at once with SIGKILL (no shutdown, no flush) and
// waits until it has exited. It returns an error, os.ErrProcessDone, if
// the child had exited already.
func (c *Child) Kill() error {
	err := c.cmd.Process.Kill()
	c.Wait()
	return err
}

// Wait waits until the child exits by itself (or is killed).
func (c *Child) Wait() {
	<-c.exited
	c.read.Wait()
}
