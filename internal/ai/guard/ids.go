package guard

// letterIDs finds the identifiers that mix letters and digits and whose
// digits start at s[i]: IBANs, UK National Insurance numbers, Spanish
// DNI and NIE numbers. Each has a check or a strict layout, which is what
// keeps product codes and references out.
func (sc *scanner) letterIDs(s string, i int) {
	if i >= 2 && isAlpha(s[i-2]) && isAlpha(s[i-1]) && !isWord(before(s, i-2)) {
		if i+1 < len(s) && isDigit(s[i+1]) {
			if end := iban(s, i-2); end > 0 {
				sc.add(i-2, end, kindIBAN)
				return
			}
		}
		if end := nino(s, i-2); end > 0 {
			sc.add(i-2, end, kindNationalID)
			return
		}
	}
	if i >= 3 && s[i-1] == ' ' && !isWord(before(s, i-3)) {
		if end := nino(s, i-3); end > 0 {
			sc.add(i-3, end, kindNationalID)
			return
		}
	}
	if i >= 1 && (s[i-1] == 'X' || s[i-1] == 'Y' || s[i-1] == 'Z') && !isWord(before(s, i-1)) {
		if end := dni(s, i, 7, s[i-1]-'X'); end > 0 {
			sc.add(i-1, end, kindNationalID)
			return
		}
	}
	if i >= 2 && s[i-1] == '-' && (s[i-2] == 'X' || s[i-2] == 'Y' || s[i-2] == 'Z') && !isWord(before(s, i-2)) {
		if end := dni(s, i, 7, s[i-2]-'X'); end > 0 {
			sc.add(i-2, end, kindNationalID)
			return
		}
	}
	if !isWord(before(s, i)) && !badLeft(s, i) {
		if end := dni(s, i, 8, 0); end > 0 {
			sc.add(i, end, kindNationalID)
		}
	}
}

// ibanLengths is the length of the IBANs of each country that has them.
var ibanLengths = map[[2]byte]int{
	{'A', 'D'}: 24, {'A', 'E'}: 23, {'A', 'L'}: 28, {'A', 'T'}: 20, {'A', 'Z'}: 28,
	{'B', 'A'}: 20, {'B', 'E'}: 16, {'B', 'G'}: 22, {'B', 'H'}: 22, {'B', 'I'}: 27,
	{'B', 'R'}: 29, {'B', 'Y'}: 28, {'C', 'H'}: 21, {'C', 'R'}: 22, {'C', 'Y'}: 28,
	{'C', 'Z'}: 24, {'D', 'E'}: 22, {'D', 'J'}: 27, {'D', 'K'}: 18, {'D', 'O'}: 28,
	{'E', 'E'}: 20, {'E', 'G'}: 29, {'E', 'S'}: 24, {'F', 'I'}: 18, {'F', 'K'}: 18,
	{'F', 'O'}: 18, {'F', 'R'}: 27, {'G', 'B'}: 22, {'G', 'E'}: 22, {'G', 'I'}: 23,
	{'G', 'L'}: 18, {'G', 'R'}: 27, {'G', 'T'}: 28, {'H', 'R'}: 21, {'H', 'U'}: 28,
	{'I', 'E'}: 22, {'I', 'L'}: 23, {'I', 'Q'}: 23, {'I', 'S'}: 26, {'I', 'T'}: 27,
	{'J', 'O'}: 30, {'K', 'W'}: 30, {'K', 'Z'}: 20, {'L', 'B'}: 28, {'L', 'C'}: 32,
	{'L', 'I'}: 21, {'L', 'T'}: 20, {'L', 'U'}: 20, {'L', 'V'}: 21, {'L', 'Y'}: 25,
	{'M', 'C'}: 27, {'M', 'D'}: 24, {'M', 'E'}: 22, {'M', 'K'}: 19, {'M', 'N'}: 20,
	{'M', 'R'}: 27, {'M', 'T'}: 31, {'M', 'U'}: 30, {'N', 'I'}: 28, {'N', 'L'}: 18,
	{'N', 'O'}: 15, {'O', 'M'}: 23, {'P', 'K'}: 24, {'P', 'L'}: 28, {'P', 'S'}: 29,
	{'P', 'T'}: 25, {'Q', 'A'}: 29, {'R', 'O'}: 24, {'R', 'S'}: 22, {'R', 'U'}: 33,
	{'S', 'A'}: 24, {'S', 'C'}: 31, {'S', 'D'}: 18, {'S', 'E'}: 24, {'S', 'I'}: 19,
	{'S', 'K'}: 24, {'S', 'M'}: 27, {'S', 'O'}: 23, {'S', 'T'}: 25, {'S', 'V'}: 28,
	{'T', 'L'}: 23, {'T', 'N'}: 24, {'T', 'R'}: 26, {'U', 'A'}: 29, {'V', 'A'}: 22,
	{'V', 'G'}: 24, {'X', 'K'}: 20, {'Y', 'E'}: 30,
}

// iban returns the end of the IBAN at s[i], or 0: a country's code, two
// check digits and the rest to the country's length, written whole or in
// groups of four parted by single spaces, that passes the mod-97 check.
func iban(s string, i int) int {
	n := ibanLengths[[2]byte{upper(s[i]), upper(s[i+1])}]
	if n == 0 {
		return 0
	}
	if ck := s[i+2 : i+4]; ck == "00" || ck == "01" || ck == "99" {
		return 0
	}
	var buf [34]byte
	m, j := 0, i
	for j < len(s) && m < n {
		c := s[j]
		switch {
		case isAlnum(c):
			buf[m] = upper(c)
			m++
		case c == ' ' && m%4 == 0 && j+1 < len(s) && isAlnum(s[j+1]):
		default:
			return 0
		}
		j++
	}
	if m != n || isAlnum(after(s, j)) {
		return 0
	}
	// Move the country code and check digits to the end, read letters as
	// 10..35 and take the number mod 97; a valid IBAN leaves 1.
	r := 0
	for k := range n {
		c := buf[(k+4)%n]
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	if r != 1 {
		return 0
	}
	return j
}

// nino returns the end of the UK National Insurance number at s[i], or 0:
// a prefix of two letters HMRC allocates, six digits (spaced in pairs or
// not) and a suffix A to D, in capitals.
func nino(s string, i int) int {
	p, q := s[i], s[i+1]
	if !isUpper(p) || !isUpper(q) || p == 'D' || p == 'F' || p == 'I' || p == 'Q' || p == 'U' || p == 'V' ||
		q == 'D' || q == 'F' || q == 'I' || q == 'O' || q == 'Q' || q == 'U' || q == 'V' {
		return 0
	}
	switch s[i : i+2] {
	case "BG", "GB", "NK", "KN", "TN", "NT", "ZZ":
		return 0
	}
	j := i + 2
	for range 3 {
		if j < len(s) && s[j] == ' ' {
			j++
		}
		if j+1 >= len(s) || !isDigit(s[j]) || !isDigit(s[j+1]) {
			return 0
		}
		j += 2
	}
	if j < len(s) && s[j] == ' ' {
		j++
	}
	if j >= len(s) || s[j] < 'A' || s[j] > 'D' || isAlnum(after(s, j+1)) {
		return 0
	}
	return j + 1
}

// dniLetters are the check letters of Spanish DNI and NIE numbers,
// indexed by the number mod 23.
const dniLetters = "TRWAGMYFPDXBNJZSQVHLCKE"

// dni returns the end of the Spanish DNI (8 digits) or NIE (X, Y or Z,
// valued 0 to 2, then 7 digits) number whose digits start at s[i], or 0:
// the digits, an optional dash and the check letter.
func dni(s string, i, digits int, lead byte) int {
	j := i + digits
	if j >= len(s) {
		return 0
	}
	n := int(lead)
	for k := i; k < j; k++ {
		if !isDigit(s[k]) {
			return 0
		}
		n = n*10 + int(s[k]-'0')
	}
	if s[j] == '-' {
		j++
	}
	if j >= len(s) || s[j] != dniLetters[n%23] || isAlnum(after(s, j+1)) {
		return 0
	}
	return j + 1
}
