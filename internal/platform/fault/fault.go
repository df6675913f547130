// Package fault kills the process at named points of its work, so that
// tests can prove that a service killed at any step loses nothing and
// leaves nothing half done once it is started again. It knows no service:
// a service names its points ("checkout/after-charge") and calls [Point]
// at each.
//
// # Only in a binary built for tests
//
// The points can kill only in a binary built with the build tag faults
// (go build -tags faults), as the tests that kill build the bookshop
// binary. In any other build, the production binary and the images
// included, [Point] does nothing and [Armed] returns nil, whatever the
// environment says: no setting of a deployment can make a service kill
// itself.
//
// In a binary built with the tag, a point does nothing unless the
// process's environment variable BOOKSHOP_FAULT ([EnvVar]) names it: then
// the process kills itself at once with SIGKILL (on Windows,
// TerminateProcess), as kill -9 would. No deferred function runs, no
// buffer is flushed, no connection is closed cleanly: what was on disk is
// all that is left. BOOKSHOP_FAULT is a comma-separated list of points; a
// test sets it on the process it means to kill, and only there. A service
// built with the tag whose points are armed says so in its log when it
// starts (see [Armed]).
package fault

import (
	"slices"
	"strings"
)

// EnvVar is the environment variable that arms fault points, in a binary
// built with the tag faults: a comma-separated list of their names.
const EnvVar = "BOOKSHOP_FAULT"

// KilledExitCode is the exit status of a process that a point could not
// kill with SIGKILL, and that exits with it instead: 128 + 9, what a
// shell reports for a process killed by SIGKILL.
const KilledExitCode = 137

// points returns the names that env (BOOKSHOP_FAULT's value) lists, or
// nil when it lists none.
func points(env string) []string {
	var names []string
	for name := range strings.SplitSeq(env, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// armed reports whether the list env (BOOKSHOP_FAULT's value) names name.
func armed(env, name string) bool {
	return name != "" && slices.Contains(points(env), name)
}
