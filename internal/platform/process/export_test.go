package process

// ContainerMemoryLimit and TuneRuntimeWith are containerMemoryLimit and
// tuneRuntime, for the tests.
var (
	ContainerMemoryLimit = containerMemoryLimit
	TuneRuntimeWith      = tuneRuntime
)
