//go:build faults

package fault

import (
	"fmt"
	"os"
	"time"
)

// enabled is whether this build's points can kill: it was built with the
// tag faults.
const enabled = true

// Point kills the process at once, with SIGKILL, when BOOKSHOP_FAULT names
// name; otherwise it does nothing. Before it kills, it writes
// "fault: killed at NAME" to standard error, so that a test can tell
// which point killed the process. It does not return when it kills: if
// the signal cannot be sent, or has not ended the process within a few
// seconds, the process exits with status 137 (KilledExitCode) instead,
// without running deferred functions either.
func Point(name string) {
	if !armed(os.Getenv(EnvVar), name) {
		return
	}
	fmt.Fprintf(os.Stderr, "fault: killed at %s\n", name)
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		err = p.Kill()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fault: SIGKILL failed (%v): exiting with status %d\n", err, KilledExitCode)
		os.Exit(KilledExitCode)
	}
	// The signal is on its way: nothing more of this process runs. Should
	// it not arrive, the process must end all the same.
	time.Sleep(5 * time.Second)
	os.Exit(KilledExitCode)
}

// Armed returns the points BOOKSHOP_FAULT names, or nil when it names
// none: for a service to warn in its log at start that it may kill
// itself.
func Armed() []string { return points(os.Getenv(EnvVar)) }
