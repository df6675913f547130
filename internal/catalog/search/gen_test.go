package search

import (
	"math/rand/v2"
	"strings"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Words of the generated catalog's titles, the most common first: titles
// draw them with a Zipf distribution, as real titles draw words.
var titleWords = strings.Fields(`the of and a in to night house last city love
	war murder secret dark time world king man girl star garden river dead
	shadow blood empire stone sea fire moon winter summer queen death dream
	light little black white red silent lost long road history life book art
	iron glass golden hidden island mountain forest storm ghost game child
	heart dragon ship wolf bridge orient express station letters voyage
	journey daughter son mother father brother sister lady lord prince
	princess machine engine planet galaxy robot mind habit power money
	happiness courage wisdom silence memory promise mirror window garden
	kitchen library museum castle tower palace harbour valley desert canyon
	ocean lake village street market winter spring autumn morning evening
	midnight dawn crow raven fox bear lion tiger eagle owl serpent rose lily
	oak willow pine birch ash thorn salt honey bread wine coffee tea sugar
	café naïve señor über façade piñata smörgåsbord straße ærø gödel
	zürich kraków łódź são paulo reykjavík dvořák brontë`)

var firstNames = strings.Fields(`Agatha Jane Emily Charlotte Anne Arthur
	Isaac Ursula Frank Douglas Ray Philip Mary Virginia George Leo Fyodor
	Gabriel Isabel Jorge Haruki Kazuo Chimamanda Toni Margaret Octavia
	Terry Neil Dashiell Raymond Patricia Ruth Louise Stieg Jo Henning Karel
	Stanisław Søren Björk Zoë Chloë Renée José Ångström Ævar Þóra Kurt`)

var lastNames = strings.Fields(`Christie Austen Brontë Doyle Asimov Le Guin
	Herbert Adams Bradbury Dick Shelley Woolf Orwell Tolstoy Dostoevsky
	Márquez Allende Borges Murakami Ishiguro Adichie Morrison Atwood Butler
	Pratchett Gaiman Hammett Chandler Highsmith Rendell Penny Larsson Nesbø
	Mankell Čapek Lem Kierkegaard Gödel Müller Straße Ørsted Dvořák Łukasz
	Smith Jones Brown Taylor Wilson Evans Thomas Johnson Roberts Walker`)

// generate returns n books with made-up titles and authors, the same for
// the same seed: ids from 1, titles of two to six words.
func generate(n int, seed uint64) []bookshop.Book {
	r := rand.New(rand.NewPCG(seed, 1))
	zipf := rand.NewZipf(r, 1.1, 4, uint64(len(titleWords)-1))
	books := make([]bookshop.Book, n)
	var b strings.Builder
	for i := range books {
		b.Reset()
		for w := range 2 + r.IntN(5) {
			if w > 0 {
				b.WriteByte(' ')
			}
			word := titleWords[zipf.Uint64()]
			if w == 0 && word[0] >= 'a' && word[0] <= 'z' {
				word = strings.ToUpper(word[:1]) + word[1:]
			}
			b.WriteString(word)
		}
		books[i] = bookshop.Book{
			ID:       int32(i + 1),
			Title:    b.String(),
			Author:   firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))],
			Year:     1800 + r.IntN(225),
			Category: bookshop.Categories()[r.IntN(3)],
		}
	}
	return books
}
