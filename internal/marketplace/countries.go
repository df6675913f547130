package marketplace

import "strings"

// assignedCountries are the 249 officially assigned ISO 3166-1 alpha-2
// codes, in order, each followed by a space: the countries a shipping
// address may name, with Kosovo's XK (see shippingCountry). Not the
// reserved ones (UK, EU and the like), nor the user-assigned (AA, QM to
// QZ, XA to XZ, ZZ): no country has them.
//
// Source: ISO 3166-1 as listed by tzdata's iso3166.tab ("current as of
// ISO/TC 46 N1108 (2023-04-05)") and by Debian's iso-codes 4.15.0
// (iso_3166-1.json), which agree; taken on 2026-12-03. A code ISO assigns
// or withdraws later is added or removed here.
const assignedCountries = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE " +
	"BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD " +
	"CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM " +
	"DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF " +
	"GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN " +
	"KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME " +
	"MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA " +
	"NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM " +
	"PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI " +
	"SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK " +
	"TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI " +
	"VN VU WF WS YE YT ZA ZM ZW "

// assignedCountry reports whether code, in capitals, is an assigned ISO
// 3166-1 alpha-2 code.
func assignedCountry(code string) bool {
	if len(code) != 2 || strings.IndexFunc(code, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return false
	}
	// Each code starts at a multiple of 3; two capitals and a space are
	// found nowhere else in the list.
	return strings.Index(assignedCountries, code+" ")%3 == 0
}

// shippingCountry reports whether code, in capitals, names a country a
// shipping address may be in: an assigned code, or XK, Kosovo's, which
// ISO leaves user-assigned but the EU, the Universal Postal Union's
// members and carriers use for it.
func shippingCountry(code string) bool { return assignedCountry(code) || code == "XK" }
