//go:build race

package waf

// raceEnabled: the race detector multiplies the CRS suite's run time about
// tenfold (minutes on two cores), so it runs a sample under it.
const raceEnabled = true
