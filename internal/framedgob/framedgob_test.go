package framedgob

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type state struct {
	Step int
	W    []float32
}

func TestRoundTripAndRefusals(t *testing.T) {
	dir := t.TempDir()
	f := Format{Magic: "TESTMAGC", Version: 3, MaxBytes: 1 << 20}
	path := filepath.Join(dir, "s.ckpt")
	want := state{Step: 7, W: []float32{1, -2, 3.5}}
	if err := f.Write(path, want); err != nil {
		t.Fatal(err)
	}
	var got state
	if err := f.Read(path, &got); err != nil {
		t.Fatal(err)
	}
	if got.Step != want.Step || len(got.W) != 3 || got.W[2] != 3.5 {
		t.Fatalf("read %+v, wrote %+v", got, want)
	}
	good, _ := os.ReadFile(path)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff
	newer := append([]byte(nil), good...)
	newer[8] = 4
	for _, c := range []struct {
		path, want string
	}{
		{write("short", good[:10]), "truncated"},
		{write("cut", good[:len(good)-2]), "truncated or corrupt: header says"},
		{write("crc", corrupt), "corrupt (checksum mismatch)"},
		{write("newer", newer), "format version 4, this shears reads version 3"},
		{dir, "not a regular file"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		err := f.Read(c.path, &got)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.path, err, c.want)
		}
	}
	other := Format{Magic: "OTHERMAG", Version: 3, MaxBytes: 1 << 20}
	err := other.Read(path, &got)
	var fe *ForeignError
	if !errors.As(err, &fe) || fe.Magic != "TESTMAGC" {
		t.Errorf("foreign file: error %v, want a ForeignError naming TESTMAGC", err)
	}
	small := Format{Magic: "TESTMAGC", Version: 3, MaxBytes: 4}
	if err := small.Read(path, &got); err == nil || !strings.Contains(err.Error(), "header says") {
		t.Errorf("payload over MaxBytes: error %v", err)
	}
}
