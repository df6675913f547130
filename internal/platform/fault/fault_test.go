package fault

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// TestArmedList checks what Armed says of BOOKSHOP_FAULT: the points it
// names in a build with the tag faults, and nothing in any other.
func TestArmedList(t *testing.T) {
	t.Setenv(EnvVar, "a, b,,c ")
	var want []string
	if enabled {
		want = []string{"a", "b", "c"}
	}
	if got := Armed(); !slices.Equal(got, want) {
		t.Errorf("Armed() = %q, want %q (built with the tag faults: %v)", got, want, enabled)
	}
	t.Setenv(EnvVar, "")
	if got := Armed(); got != nil {
		t.Errorf("Armed() with %s empty = %q, want nil", EnvVar, got)
	}
}

// TestPointInertWithoutTag arms a point in this very process, built
// without the tag faults, and passes it: it must do nothing, as in the
// production binary. (Were it to kill, the test binary would die.)
func TestPointInertWithoutTag(t *testing.T) {
	if enabled {
		t.Skip("built with the tag faults: the points kill")
	}
	t.Setenv(EnvVar, "test/armed")
	Point("test/armed")
	if Armed() != nil {
		t.Errorf("Armed() = %q without the tag faults, want nil", Armed())
	}
}

// faultsBinary is this package's test binary built with the tag faults,
// once.
var faultsBinary struct {
	once sync.Once
	path string
	err  error
}

// killingTestBinary returns a test binary of this package whose points
// kill: this one when it was built with the tag faults, and otherwise one
// built with it.
func killingTestBinary(tb testing.TB) string {
	tb.Helper()
	if enabled {
		return os.Args[0]
	}
	faultsBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "bookshop-fault-test-")
		if err != nil {
			faultsBinary.err = err
			return
		}
		faultsBinary.path = filepath.Join(dir, "fault.test")
		if out, err := exec.Command("go", "test", "-c", "-tags", "faults", "-o", faultsBinary.path, ".").CombinedOutput(); err != nil {
			faultsBinary.err = errors.New("go test -c -tags faults: " + err.Error() + "\n" + string(out))
		}
	})
	if faultsBinary.err != nil {
		tb.Fatal(faultsBinary.err)
	}
	return faultsBinary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if faultsBinary.path != "" {
		os.RemoveAll(filepath.Dir(faultsBinary.path))
	}
	os.Exit(code)
}

// TestPointKills runs this package's test binary, built with the tag
// faults, as a child that passes an armed point and a point that is not:
// the child must die of SIGKILL at the armed one, having passed the
// other.
func TestPointKills(t *testing.T) {
	if os.Getenv("FAULT_TEST_CHILD") == "1" {
		Point("test/not-armed")
		os.Stdout.WriteString("passed test/not-armed\n")
		Point("test/armed")
		os.Stdout.WriteString("passed test/armed\n")
		os.Exit(0)
	}
	cmd := exec.Command(killingTestBinary(t), "-test.run=^TestPointKills$")
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
