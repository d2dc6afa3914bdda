package authn

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

// FuzzDecodeMasks checks the fpm decoder against math/big: the same masks
// are valid, every bit agrees, and orgPermissions grants exactly the
// permissions whose bits are set.
func FuzzDecodeMasks(f *testing.F) {
	for _, seed := range []string{
		"0", "1", "3", "2", "7", "9007199254740993", "18446744073709551615", "18446744073709551616",
		"340282366920938463463374607431768211457", "0000000000000000000000000000001", "-1", "1.5", "1invalid",
		"", " ", "+1", "1e3", "١", strings.Repeat("9", 60),
	} {
		f.Add(seed, uint8(54))
	}
	digits := regexp.MustCompile(`^\d+$`)
	f.Fuzz(func(t *testing.T, mask string, nperm uint8) {
		words, ok := parseMask(mask, nil)
		want, wantOK := new(big.Int).SetString(mask, 10)
		wantOK = wantOK && digits.MatchString(mask)
		if ok != wantOK {
			t.Fatalf("parseMask(%q) ok = %v, want %v", mask, ok, wantOK)
		}
		// orgPermissions splits on commas and trims; compare it only on
		// masks that survive both unchanged.
		comparable := !strings.Contains(mask, ",") && jsTrim(mask) == mask
		if !ok {
			if !comparable {
				return
			}
			if got := orgPermissions([]string{"f"}, permissionList(int(nperm)), mask); len(got) != 0 {
				t.Fatalf("invalid mask %q granted %v", mask, got)
			}
			return
		}
		if bitLen := want.BitLen(); bitLen > 64*len(words) {
			t.Fatalf("parseMask(%q) has %d words, too few for %d bits", mask, len(words), bitLen)
		}
		for j := range 64 * len(words) {
			if got := uint(words[j/64] >> (j % 64) & 1); got != want.Bit(j) {
				t.Fatalf("parseMask(%q) bit %d = %d, want %d", mask, j, got, want.Bit(j))
			}
		}
		if !comparable {
			return
		}
		var wantPerms []string
		for j := range int(nperm) {
			if want.Bit(j) == 1 {
				wantPerms = append(wantPerms, fmt.Sprintf("org:f:p%d", j))
			}
		}
		got := orgPermissions([]string{"f"}, permissionList(int(nperm)), mask)
		if strings.Join(got, ",") != strings.Join(wantPerms, ",") {
			t.Fatalf("orgPermissions(mask %q, %d permissions) = %v, want %v", mask, nperm, got, wantPerms)
		}
	})
}

func permissionList(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("p%d", i)
	}
	return strings.Join(names, ",")
}
