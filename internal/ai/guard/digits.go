package guard

// The detectors of numbers (phones, cards, US SSNs) read a cluster: runs
// of digits joined by separators, like "+44 (0)20 7946 0958" or "4111 1111
// 1111 1111 5500 0000 0000 0004". A value is a sequence of the cluster's
// groups that has its kind's shape and check, and that either touches the
// cluster's edge or is parted from the rest by a plain space. Shapes matter
// more than digit counts: dates, versions, IP addresses, prices and order
// numbers have digits and separators too, and a run that touches a letter
// or a decimal point is never a value.

// group is one run of digits, s[start:end].
type group struct{ start, end int }

// cluster reads the cluster starting at s[i], records its values and
// returns its end.
func (sc *scanner) cluster(s string, i int) int {
	g := sc.groups[:0]
	for j := i; ; {
		st := j
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		g = append(g, group{st, j})
		k := j
		if k < len(s) && s[k] == ')' {
			k++
		}
		if k < len(s) && (s[k] == ' ' || s[k] == '-' || s[k] == '.') {
			k++
		}
		if k < len(s) && s[k] == '(' {
			k++
		}
		if k == j || k >= len(s) || !isDigit(s[k]) {
			break
		}
		j = k
	}
	sc.groups = g
	end := g[len(g)-1].end
	if isAlpha(before(s, i)) {
		// A cluster glued to a word (an IBAN's digits, a product code) is
		// that word's, all of it.
		return end
	}
	c := cluster{s: s, g: g}
	for a := 0; a < len(g); {
		if b, k := c.value(a); b >= a {
			start := g[a].start
			if k == kindPhone && start > 0 && (s[start-1] == '+' || s[start-1] == '(') {
				start--
			}
			sc.add(start, g[b].end, k)
			a = b + 1
			continue
		}
		a++
	}
	return end
}

// cluster is one cluster being classified.
type cluster struct {
	s string
	g []group
}

func (c *cluster) size(k int) int { return c.g[k].end - c.g[k].start }

// sep is the separator after group k.
func (c *cluster) sep(k int) string { return c.s[c.g[k].end:c.g[k+1].start] }

// first is group k's first digit.
func (c *cluster) first(k int) byte { return c.s[c.g[k].start] }

// value classifies the groups from a: the last group and kind of the value
// that starts there, or -1.
func (c *cluster) value(a int) (int, kind) {
	if a == 0 && c.g[0].start > 0 && c.s[c.g[0].start-1] == '+' {
		return c.phone(a), kindPhone
	}
	if b := c.card(a); b >= 0 {
		return b, kindCard
	}
	if b := c.ssn(a); b >= 0 {
		return b, kindNationalID
	}
	return c.phone(a), kindPhone
}

// startOK reports whether a value may start at group a: after a boundary
// at the cluster's start, else after a plain space.
func (c *cluster) startOK(a int) bool {
	if a > 0 {
		return c.sep(a-1) == " "
	}
	return !badLeft(c.s, c.g[0].start)
}

// endOK reports whether a value may end with group b.
func (c *cluster) endOK(b int) bool {
	if b < len(c.g)-1 {
		return c.sep(b) == " "
	}
	return !badRight(c.s, c.g[b].end)
}

// badLeft reports whether the byte before s[i] glues a number that starts
// there to something else: a word, a decimal point, a path, an amount, a
// reference (#, -), a time.
func badLeft(s string, i int) bool {
	c := before(s, i)
	switch c {
	case '_', '.', '/', '\\', '#', '$', '%', '@', '^', '~', '+', '&', '|':
		return true
	case ',', ':':
		return i >= 2 && isDigit(before(s, i-1))
	case '-':
		return i >= 2 && isAlnum(before(s, i-1))
	}
	return isAlnum(c)
}

// badRight is badLeft for the byte after a number ending before s[j].
func badRight(s string, j int) bool {
	c := after(s, j)
	switch c {
	case '_', '/', '\\', '%', '@', '^', '~', '$':
		return true
	case '.', ',', ':', '-', '+':
		return j+1 < len(s) && isDigit(s[j+1])
	}
	return isAlnum(c)
}

// card returns the last group of the payment card number that starts at
// group a, or -1: 13 to 19 digits that pass the Luhn check and start with
// a major network's first digit (2 to 6), either in one run or grouped the
// way cards are printed (4-4-4-4, 4-6-5, ...) with one kind of separator.
func (c *cluster) card(a int) int {
	if !c.startOK(a) {
		return -1
	}
	if n := c.size(a); n >= 13 && n <= 19 {
		if c.endOK(a) && c.cardDigits(a, a) {
			return a
		}
		return -1
	}
	if c.size(a) != 4 || a+2 >= len(c.g) {
		return -1
	}
	sep := c.sep(a)
	if sep != " " && sep != "-" {
		return -1
	}
	for b := min(a+4, len(c.g)-1); b >= a+2; b-- {
		if c.cardShape(a, b, sep) && c.endOK(b) && c.cardDigits(a, b) {
			return b
		}
	}
	return -1
}

// cardShape reports whether groups a..b are laid out like a printed card.
func (c *cluster) cardShape(a, b int, sep string) bool {
	for k := a; k < b; k++ {
		if c.sep(k) != sep {
			return false
		}
	}
	last := c.size(b)
	switch b - a {
	case 2: // 4-6-4 (Diners), 4-6-5 (Amex)
		return c.size(a+1) == 6 && (last == 4 || last == 5)
	case 3: // 4-4-4-1..4
		return c.size(a+1) == 4 && c.size(a+2) == 4 && last <= 4
	case 4: // 4-4-4-4-1..3
		return c.size(a+1) == 4 && c.size(a+2) == 4 && c.size(a+3) == 4 && last <= 3
	}
	return false
}

// cardDigits reports whether the digits of groups a..b are a card number.
func (c *cluster) cardDigits(a, b int) bool {
	if f := c.first(a); f < '2' || f > '6' {
		return false
	}
	sum, n := 0, 0
	for k := b; k >= a; k-- {
		for i := c.g[k].end - 1; i >= c.g[k].start; i-- {
			d := int(c.s[i] - '0')
			if n%2 == 1 {
				if d *= 2; d > 9 {
					d -= 9
				}
			}
			sum += d
			n++
		}
	}
	return n >= 13 && n <= 19 && sum%10 == 0
}

// ssn returns the last group of the US Social Security number at group a,
// or -1: NNN-NN-NNNN with dashes, area not 000, 666 or 9xx, group not 00,
// serial not 0000 (numbers never issued).
func (c *cluster) ssn(a int) int {
	b := a + 2
	if b >= len(c.g) || c.size(a) != 3 || c.size(a+1) != 2 || c.size(b) != 4 ||
		c.sep(a) != "-" || c.sep(a+1) != "-" || !c.startOK(a) || !c.endOK(b) {
		return -1
	}
	s := c.s
	area, grp, serial := s[c.g[a].start:c.g[a].end], s[c.g[a+1].start:c.g[a+1].end], s[c.g[b].start:c.g[b].end]
	if area == "000" || area == "666" || area[0] == '9' || grp == "00" || serial == "0000" {
		return -1
	}
	return b
}

// phone returns the last group of the phone number at group a, or -1.
// With a leading +, it is E.164: a country code and 8 to 15 digits in all.
// Without, it needs separators and a national shape: North American
// (555) 123-4567, 1-800-555-1234, or a trunk prefix 0 and 9 to 12 digits
// in groups of two or more (020 7946 0958, 030 123456, 01 23 45 67 89).
// A bare run of digits is never a phone.
func (c *cluster) phone(a int) int {
	s, g := c.s, c.g
	plus, open := false, false
	if a == 0 {
		st := g[0].start
		if st > 0 && (s[st-1] == '+' || s[st-1] == '(') {
			plus, open = s[st-1] == '+', s[st-1] == '('
			st--
		}
		if badLeft(s, st) {
			return -1
		}
	} else {
		switch c.sep(a - 1) {
		case " ":
		case " (":
			open = true
		default:
			return -1
		}
	}
	for b := min(len(g)-1, a+6); b >= a; b-- {
		if c.endOK(b) && c.phoneShape(a, b, plus, open) {
			return b
		}
	}
	return -1
}

func (c *cluster) phoneShape(a, b int, plus, open bool) bool {
	digits, depth, dots := 0, 0, false
	if open {
		depth = 1
	}
	for k := a; k <= b; k++ {
		digits += c.size(k)
		if k == b {
			break
		}
		for _, ch := range []byte(c.sep(k)) {
			switch ch {
			case '(':
				if depth > 0 {
					return false
				}
				depth++
			case ')':
				if depth == 0 {
					return false
				}
				depth--
			case '.':
				dots = true
			}
		}
	}
	if depth != 0 {
		return false
	}
	n := b - a + 1
	if plus {
		return digits >= 8 && digits <= 15 && c.first(a) != '0' &&
			(n == 1 || c.size(a) <= 3 && c.size(b) >= 2)
	}
	if n < 2 {
		return false
	}
	if n == 3 && c.size(a) == 3 && c.size(a+1) == 3 && c.size(a+2) == 4 && c.first(a) >= '2' ||
		n == 4 && c.size(a) == 1 && c.first(a) == '1' && c.size(a+1) == 3 && c.first(a+1) >= '2' &&
			c.size(a+2) == 3 && c.size(a+3) == 4 {
		return true
	}
	if c.first(a) != '0' || c.s[c.g[a].start+1] == '0' || digits < 9 || digits > 12 || n > 5 {
		return false // 00 is the international call prefix, not a trunk
	}
	pairs := true
	for k := a; k <= b; k++ {
		if c.size(k) < 2 {
			return false
		}
		pairs = pairs && c.size(k) == 2
	}
	if n == 2 && c.size(a) == 5 && c.size(b) == 4 && c.sep(a) == "-" { // a ZIP+4 code
		return false
	}
	return !dots || n == 5 && pairs
}
