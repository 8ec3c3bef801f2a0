//go:build race

package guard

// raceEnabled: the race detector makes sync.Pool drop items on purpose,
// so allocation counts do not hold under it.
const raceEnabled = true
