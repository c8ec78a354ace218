#include "url.h"

#include <ctype.h>
#include <string.h>

int
url_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

int
url_query_param(const char *query, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);

	for (const char *p = query; *p != '\0'; p += strcspn(p, "&"), p += *p == '&') {
		if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
			continue;
		const char *v = p + nlen + 1;
		size_t n = 0;
		for (; *v != '\0' && *v != '&'; v++) {
			int ch = (unsigned char)*v;
			if (ch == '%') {
				if (url_hexval(v[1]) < 0 || url_hexval(v[2]) < 0)
					return -1;
				ch = url_hexval(v[1]) * 16 + url_hexval(v[2]);
				v += 2;
			} else if (ch == '+') {
				ch = ' ';
			}
			if (ch == 0 || n + 1 >= outlen)
				return -1;
			out[n++] = (char)ch;
		}
		out[n] = '\0';
		return (int)n;
	}
	return 0;
}
