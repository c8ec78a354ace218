#include "utf8.h"

#include <stdint.h>

/* Length of the sequence starting with byte b, or 0 if b cannot start one. */
static int
utf8_seq_len(uint8_t b)
{
	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		return 2;
	if (b >= 0xe0 && b <= 0xef)
		return 3;
	if (b >= 0xf0 && b <= 0xf4)
		return 4;
	return 0;
}

bool
utf8_valid(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;

	while (i < len) {
		int n = utf8_seq_len(s[i]);
		if (n == 0 || i + (size_t)n > len)
			return false;
		for (int k = 1; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		if (n == 3 && ((s[i] == 0xe0 && s[i + 1] < 0xa0) ||
		    (s[i] == 0xed && s[i + 1] >= 0xa0)))
			return false;	/* overlong, or a surrogate */
		if (n == 4 && ((s[i] == 0xf0 && s[i + 1] < 0x90) ||
		    (s[i] == 0xf4 && s[i + 1] >= 0x90)))
			return false;	/* overlong, or past U+10FFFF */
		i += (size_t)n;
	}
	return true;
}
