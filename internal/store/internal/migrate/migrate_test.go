package migrate

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_keys.sql": {Data: []byte("CREATE TABLE b ();")},
		"m/0001_init.sql": {Data: []byte("CREATE TABLE a ();")},
	}
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[1].Name != "0002_keys.sql" || ms[1].SQL != "CREATE TABLE b ();" {
		t.Errorf("Load = %+v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"a gap":        {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"no number":    {"m/init.sql": {}},
		"short number": {"m/1_init.sql": {}},
		"not sql":      {"m/0001_init.txt": {}},
		"not a number": {"m/00x1_init.sql": {}},
	} {
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
}

func TestPending(t *testing.T) {
	ms := []Migration{{Version: 1}, {Version: 2}, {Version: 3}}
	for current, want := range map[int64]int{0: 3, 1: 2, 3: 0} {
		got, err := Pending(ms, current)
		if err != nil || len(got) != want || (want > 0 && got[0].Version != current+1) {
			t.Errorf("Pending(%d) = %+v, %v; want %d from %d", current, got, err, want, current+1)
		}
	}
	if _, err := Pending(ms, 4); err == nil || !strings.Contains(err.Error(), "newer than this binary knows") {
		t.Errorf("Pending on a newer schema = %v, want a refusal", err)
	}
}
