//go:build !race

package waf

// raceEnabled: see race_test.go.
const raceEnabled = false
