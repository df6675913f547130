package bookshop

import "unicode"

// Visible reports whether s shows anything: whether it holds a character
// that is not a space, a control or formatting character (such as U+200B
// ZERO WIDTH SPACE or U+FEFF), a combining mark with nothing to combine
// with, or one of the letters that are drawn blank (the Hangul fillers,
// such as U+3164, and the blank Braille pattern). A name, a title or an
// address line that shows nothing reads as missing, and one that seems
// missing must not be taken.
func Visible(s string) bool {
	for _, r := range s {
		switch {
		case unicode.IsSpace(r), unicode.In(r, unicode.C, unicode.M, unicode.Z):
		case r == '\u115f', r == '\u1160', r == '\u3164', r == '\uffa0', r == '\u2800':
		default:
			return true
		}
	}
	return false
}
