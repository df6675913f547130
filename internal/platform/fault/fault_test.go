package fault

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestArmed(t *testing.T) {
	for _, tc := range []struct {
		env, name string
		want      bool
	}{
		{"", "checkout/after-charge", false},
		{"checkout/after-charge", "checkout/after-charge", true},
		{"checkout/after-reserve,checkout/after-charge", "checkout/after-charge", true},
		{" checkout/after-reserve , checkout/after-charge ", "checkout/after-charge", true},
		{"checkout/after-charge", "checkout/after-charged", false},
		{"checkout/after", "checkout/after-charge", false},
		{",", "", false},
	} {
		if got := armed(tc.env, tc.name); got != tc.want {
			t.Errorf("armed(%q, %q) = %v, want %v", tc.env, tc.name, got, tc.want)
		}
	}
}

func TestArmedList(t *testing.T) {
	t.Setenv(EnvVar, "a, b,,c ")
	if got, want := Armed(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("Armed() = %q, want %q", got, want)
	}
	t.Setenv(EnvVar, "")
	if got := Armed(); got != nil {
		t.Errorf("Armed() with %s empty = %q, want nil", EnvVar, got)
	}
}

// TestPointKills runs this test binary again as a child that passes an
// armed point and a point that is not: the child must die of SIGKILL at
// the armed one, having passed the other.
func TestPointKills(t *testing.T) {
	if os.Getenv("FAULT_TEST_CHILD") == "1" {
		Point("test/not-armed")
		os.Stdout.WriteString("passed test/not-armed\n")
		Point("test/armed")
		os.Stdout.WriteString("passed test/armed\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPointKills$")
	cmd.Env = append(os.Environ(), "FAULT_TEST_CHILD=1", EnvVar+"=test/armed")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	exit, ok := errors.AsType[*exec.ExitError](err)
	if !ok || exit.Success() {
		t.Fatalf("child: %v, want it killed\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	if ws := exit.String(); !strings.Contains(ws, "killed") {
		t.Errorf("child ended with %q, want killed by SIGKILL", ws)
	}
	if got := stdout.String(); got != "passed test/not-armed\n" {
		t.Errorf("child's stdout = %q, want it past the point not armed and not past the armed one", got)
	}
	if got := stderr.String(); !strings.Contains(got, "fault: killed at test/armed\n") {
		t.Errorf("child's stderr = %q, want it to name the point", got)
	}
}
