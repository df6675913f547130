//go:build !race

package tool_test

// raceEnabled reports whether the test binary was built with -race (see
// shopgen_race_test.go).
const raceEnabled = false
