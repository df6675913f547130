package process

// ContainerMemoryLimit is containerMemoryLimit, for the tests.
var ContainerMemoryLimit = containerMemoryLimit
