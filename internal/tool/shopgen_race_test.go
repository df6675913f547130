//go:build race

package tool_test

// raceEnabled reports whether the test binary was built with -race, whose
// detector makes the generated shop's making and moving about ten times
// slower: under it, TestMigrateDataBigShop moves a twentieth of the shop.
const raceEnabled = true
