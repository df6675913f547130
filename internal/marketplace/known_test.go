package marketplace

import "testing"

func TestKnownBooks(t *testing.T) {
	var k knownBooks
	if k.has(1) {
		t.Fatal("an empty knownBooks has book 1")
	}
	k.add(1)
	k.add(7)
	if !k.has(1) || !k.has(7) || k.has(2) {
		t.Fatalf("after add(1), add(7): has(1), has(7), has(2) = %v, %v, %v; want true, true, false", k.has(1), k.has(7), k.has(2))
	}
	for id := range int32(maxKnownBooks) {
		k.add(100 + id)
	}
	if len(k.ids) > maxKnownBooks {
		t.Errorf("knownBooks holds %d ids, want at most %d", len(k.ids), maxKnownBooks)
	}
}
