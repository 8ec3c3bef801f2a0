package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The sources of a version: what made it.
const (
	SourceFile     = "file"     // the config file, at start or on SIGHUP
	SourceAPI      = "api"      // an apply through the admin API
	SourceRollback = "rollback" // a rollback to an earlier version's content
)

// NewVersion is what AppendVersion needs; the store fills in the rest.
type NewVersion struct {
	Files      []File // the manifests as applied, one per source file; stored sorted by Name
	Reason     string // required
	Author     string
	Source     string // SourceFile, SourceAPI or SourceRollback
	Weakening  bool   // the change weakens the policy (CONTRACT §4)
	Rollback   bool   // the version restores RollbackOf's content
	RollbackOf int64  // set exactly when Rollback is
	// ExpectBase is the number the newest version must have for the append
	// to go ahead (0: the store must be empty); -1 appends whatever it is.
	ExpectBase int64
}

// File is one manifest file of a version, as applied.
type File struct {
	Name    string // the file's name (unique within a version)
	Content string
}

// Version is an immutable, recorded policy version.
type Version struct {
	Number     int64
	Hash       string // VersionHash of this version
	PrevHash   string // the previous version's Hash; "" for version 1
	Files      []File // sorted by Name
	Reason     string
	Author     string
	Source     string
	Weakening  bool
	Rollback   bool
	RollbackOf int64
	CreatedAt  time.Time // UTC, microsecond precision
}

// ChainReport is the result of VerifyChain.
type ChainReport struct {
	OK       bool  // every version's hash and link checked out
	Versions int64 // how many versions were checked
	// BrokenAt is the first version whose hash is not the hash of its
	// content, whose PrevHash is not the previous version's Hash, or whose
	// number does not follow the previous one; 0 when OK.
	BrokenAt int64
}

// Validate reports whether v may be appended, as an ErrInvalid error.
func (v NewVersion) Validate() error {
	var problems []string
	if strings.TrimSpace(v.Reason) == "" {
		problems = append(problems, "a reason is required")
	}
	switch v.Source {
	case SourceFile, SourceAPI, SourceRollback:
	default:
		problems = append(problems, fmt.Sprintf("unknown source %q", v.Source))
	}
	if v.Rollback != (v.RollbackOf > 0) {
		problems = append(problems, "rollbackOf must be set exactly when rollback is")
	}
	if v.ExpectBase < -1 {
		problems = append(problems, "expectBase must be -1 or a version number")
	}
	seen := make(map[string]bool, len(v.Files))
	for _, f := range v.Files {
		if f.Name == "" {
			problems = append(problems, "a file has no name")
		} else if seen[f.Name] {
			problems = append(problems, fmt.Sprintf("file %q appears twice", f.Name))
		}
		seen[f.Name] = true
	}
	if problems != nil {
		return fmt.Errorf("%w version: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// Timestamp returns t as every backend stores it: in UTC, truncated to the
// microsecond, without a monotonic clock reading.
func Timestamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// hashTimeLayout is the time layout of VersionHash: RFC 3339, UTC, always six
// fractional digits.
const hashTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// hashDomain opens the hashed encoding, naming it and its revision.
const hashDomain = "portcullis/policy-version/v1"

// VersionHash returns the lowercase hex SHA-256 that chains v into the
// history. It covers everything about v but Hash itself.
//
// The hashed bytes are a sequence of netstrings — each item is its length in
// bytes as a decimal number, ":", the bytes, "," — so that no two different
// versions encode alike. The items, in order:
//
//	"portcullis/policy-version/v1"
//	Number, decimal
//	the number of Files, decimal
//	for each file, sorted by Name: Name, then Content
//	Reason
//	Author
//	Source
//	Weakening, "1" or "0"
//	Rollback, "1" or "0"
//	RollbackOf, decimal
//	CreatedAt in UTC, RFC 3339 with exactly six fractional digits
//	  ("2026-01-02T03:04:05.000006Z")
//	PrevHash
//
// Changing this encoding breaks every stored chain: TestVersionHashGolden
// pins it.
func VersionHash(v Version) string {
	h := sha256.New()
	put := func(s string) {
		writeNetstring(h, s)
	}
	put(hashDomain)
	put(strconv.FormatInt(v.Number, 10))
	files := slices.Clone(v.Files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	put(strconv.Itoa(len(files)))
	for _, f := range files {
		put(f.Name)
		put(f.Content)
	}
	put(v.Reason)
	put(v.Author)
	put(v.Source)
	put(flag(v.Weakening))
	put(flag(v.Rollback))
	put(strconv.FormatInt(v.RollbackOf, 10))
	put(v.CreatedAt.UTC().Format(hashTimeLayout))
	put(v.PrevHash)
	return hex.EncodeToString(h.Sum(nil))
}

func writeNetstring(h hash.Hash, s string) {
	h.Write(strconv.AppendInt(nil, int64(len(s)), 10))
	h.Write([]byte{':'})
	h.Write([]byte(s))
	h.Write([]byte{','})
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
