//go:build !faults

package fault

// enabled is whether this build's points can kill: it was built without
// the tag faults, so they cannot.
const enabled = false

// Point does nothing: in a binary built without the tag faults, no point
// can be armed (see the package documentation).
func Point(name string) {}

// Armed returns nil: in a binary built without the tag faults, no point
// is armed, whatever BOOKSHOP_FAULT says.
func Armed() []string { return nil }
