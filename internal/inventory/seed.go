package inventory

import "maps"

// seedStock is the stock a new inventory database starts with: copies on
// hand of each book of the built-in catalog (ids 1 to 45), numbers a
// small shop might have, so that the pages show every label from the
// start: most books "In stock", six with one to three copies ("Only 2
// left": 5, 10, 16, 24, 30 and 42) and two sold out (12 and 28, with no
// "Add to cart"). An operator sets the real numbers with `bookshop stock`.
var seedStock = map[int32]int{
	1: 12, 2: 8, 3: 15, 4: 20, 5: 3, 6: 9, 7: 14, 8: 11, 9: 6,
	10: 2, 11: 17, 12: 0, 13: 5, 14: 7, 15: 10, 16: 1, 17: 4, 18: 13, 19: 8,
	20: 22, 21: 25, 22: 9, 23: 6, 24: 3, 25: 18, 26: 12, 27: 21, 28: 0, 29: 5,
	30: 2, 31: 16, 32: 10, 33: 7, 34: 24, 35: 19, 36: 11, 37: 8, 38: 4, 39: 13,
	40: 6, 41: 9, 42: 1, 43: 12, 44: 7, 45: 15,
}

// SeedStock returns the stock a new inventory database starts with (see
// seedStock): copies on hand by book id. Each call returns a new map.
func SeedStock() map[int32]int { return maps.Clone(seedStock) }
