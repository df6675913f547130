package migrations_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bookshop-go/bookshop/internal/platform/migrations"
)

func TestRead(t *testing.T) {
	ms, err := migrations.Read(fstest.MapFS{
		"0002_more.sql":  {Data: []byte("ALTER")},
		"0001_first.sql": {Data: []byte("CREATE")},
		"0010_later.sql": {Data: []byte("DROP")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Name+"="+m.SQL)
	}
	if want := "0001_first.sql=CREATE 0002_more.sql=ALTER 0010_later.sql=DROP"; strings.Join(got, " ") != want {
		t.Errorf("Read = %v, want %s (in version order)", got, want)
	}
	if ms[2].Version != 10 {
		t.Errorf("version of %s = %d, want 10", ms[2].Name, ms[2].Version)
	}
}

func TestReadRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"none", fstest.MapFS{}, "no migrations"},
		{"no number", fstest.MapFS{"first.sql": {}}, "name must be NNNN_what.sql"},
		{"version 0", fstest.MapFS{"0000_zero.sql": {}}, "name must be NNNN_what.sql"},
		{"not sql", fstest.MapFS{"0001_notes.txt": {}}, "name must be NNNN_what.sql"},
		{"a version twice", fstest.MapFS{"0001_a.sql": {}, "1_b.sql": {}}, "have the same version"},
	} {
		if _, err := migrations.Read(tc.fsys); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Read = %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := migrations.Read(nil); err == nil {
		t.Error("Read(nil) = nil error, want no migrations")
	}
}
