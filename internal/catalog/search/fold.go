package search

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Fold returns the words of s as the index compares them, each followed
// by one space: "Brontë, Emily" is "bronte emily ". The rules:
//
//   - Letters and digits make words; anything else (spaces, punctuation,
//     symbols) separates them. An apostrophe (' or ’) inside a word is
//     dropped, so "Ender's" is the word "enders"; elsewhere it separates.
//   - Text is decomposed (Unicode NFKD) and its nonspacing marks dropped,
//     so accents go ("Gödel" is "godel") and compatibility forms become
//     plain ones (the ligature "ﬁ" is "fi", "²" is "2").
//   - Letters are lower-cased, and the letters that carry no mark to drop
//     are spelt out as a reader without them would type them: ß is ss, æ
//     ae, œ oe, ø o, ł l, đ and ð d, þ th, ħ h, ŧ t, ı i, and a final ς σ.
//
// Scripts that do not separate words with spaces (Chinese, Japanese,
// Thai) come out as one word a run: they are found by their first
// characters, as a prefix, but not by a word in the middle.
func Fold(s string) string {
	return string(appendWords(nil, s))
}

// appendWords appends the folded words of s to dst, each followed by one
// space (see Fold), and returns the extended slice. It decomposes one
// rune at a time, from the tables of package norm, rather than the whole
// text at once (norm.NFKD.AppendString): that allocates nothing, and
// folding a catalog's titles and authors allocated more than indexing
// them. The order of the marks, which the whole-text form would
// normalize, does not matter once they are dropped.
func appendWords(dst []byte, s string) []byte {
	w := wordWriter{dst: dst}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			w.ascii(c)
			i++
			continue
		}
		p := norm.NFKD.PropertiesString(s[i:])
		if d := p.Decomposition(); d != nil {
			for len(d) > 0 {
				r, n := utf8.DecodeRune(d)
				w.rune(r)
				d = d[n:]
			}
		} else {
			r, _ := utf8.DecodeRuneInString(s[i:]) // utf8.RuneError, a separator, for a bad byte
			w.rune(r)
		}
		i += max(p.Size(), 1)
	}
	return w.end()
}

// spelt are the lower-case letters with no decomposition that Fold spells
// out in other letters.
var spelt = map[rune]string{
	'ß': "ss",
	'æ': "ae",
	'œ': "oe",
	'ø': "o",
	'ł': "l",
	'đ': "d",
	'ð': "d",
	'þ': "th",
	'ħ': "h",
	'ŧ': "t",
	'ı': "i",
	'ς': "σ",
}

// wordWriter writes folded words, one rune at a time.
type wordWriter struct {
	dst    []byte
	inWord bool
}

// ascii writes an ASCII byte.
func (w *wordWriter) ascii(c byte) {
	switch {
	case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		w.dst = append(w.dst, c)
		w.inWord = true
	case 'A' <= c && c <= 'Z':
		w.dst = append(w.dst, c+('a'-'A'))
		w.inWord = true
	case c == '\'':
		// Inside a word, nothing: "ender's" is "enders". Outside, a
		// separator, which it already is.
	default:
		w.space()
	}
}

// rune writes any rune of NFKD text.
func (w *wordWriter) rune(r rune) {
	if r < utf8.RuneSelf {
		w.ascii(byte(r))
		return
	}
	switch {
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
		// A mark on the letter before: dropped, within the word.
		return
	case r == '’' || r == 'ʼ':
		return // an apostrophe: see ascii
	}
	r = unicode.ToLower(r)
	if s, ok := spelt[r]; ok {
		w.dst = append(w.dst, s...)
		w.inWord = true
		return
	}
	if unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mc, r) {
		w.dst = utf8.AppendRune(w.dst, r)
		w.inWord = true
		return
	}
	w.space()
}

// space ends the word being written, if any.
func (w *wordWriter) space() {
	if w.inWord {
		w.dst = append(w.dst, ' ')
		w.inWord = false
	}
}

// end ends the last word and returns what was written.
func (w *wordWriter) end() []byte {
	w.space()
	return w.dst
}
