// Package fault kills the process at named points of its work, so that
// tests can prove that a service killed at any step loses nothing and
// leaves nothing half done once it is started again. It knows no service:
// a service names its points ("checkout/after-charge") and calls [Point]
// at each.
//
// A point does nothing unless the process's environment variable
// BOOKSHOP_FAULT ([EnvVar]) names it: then the process kills itself at
// once with SIGKILL (on Windows, TerminateProcess), as kill -9 would. No
// deferred function runs, no buffer is flushed, no connection is closed
// cleanly: what was on disk is all that is left. BOOKSHOP_FAULT is a
// comma-separated list of points; a test sets it on the process it means
// to kill, and only there.
//
// Never set BOOKSHOP_FAULT in a deployment: it exists for tests alone. A
// service that finds it set says so in its log when it starts (see
// [Armed]).
package fault

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// EnvVar is the environment variable that arms fault points: a
// comma-separated list of their names.
const EnvVar = "BOOKSHOP_FAULT"

// Point kills the process at once, with SIGKILL, when BOOKSHOP_FAULT names
// name; otherwise it does nothing. Before it kills, it writes
// "fault: killed at NAME" to standard error, so that a test can tell
// which point killed the process. It does not return when it kills.
func Point(name string) {
	if !armed(os.Getenv(EnvVar), name) {
		return
	}
	fmt.Fprintf(os.Stderr, "fault: killed at %s\n", name)
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill()
	}
	select {} // the signal is on its way: nothing more of this process runs
}

// Armed returns the points BOOKSHOP_FAULT names, or nil when it names
// none: for a service to warn in its log at start that it may kill
// itself.
func Armed() []string {
	var names []string
	for name := range strings.SplitSeq(os.Getenv(EnvVar), ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// armed reports whether the list env (BOOKSHOP_FAULT's value) names name.
func armed(env, name string) bool {
	if env == "" || name == "" {
		return false
	}
	return slices.ContainsFunc(strings.Split(env, ","), func(s string) bool { return strings.TrimSpace(s) == name })
}
