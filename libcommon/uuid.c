#include "uuid.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Sets the version (4) and variant bits of b and writes it as text. */
static void
uuid_format_v4(unsigned char b[16], char out[UUID_STRLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 0x0f];
	}
	*p = '\0';
}

void
uuid_v4(char out[UUID_STRLEN + 1])
{
	unsigned char b[16];

	randombytes_buf(b, sizeof(b));
	uuid_format_v4(b, out);
}

void
uuid_v4_seq(char out[UUID_STRLEN + 1])
{
	static unsigned char prefix[8];
	static uint64_t counter;
	unsigned char b[16];

	if (counter == 0)
		randombytes_buf(prefix, sizeof(prefix));
	counter++;
	memcpy(b, prefix, 8);
	for (int i = 0; i < 8; i++)
		b[8 + i] = (unsigned char)(counter >> (56 - 8 * i));
	uuid_format_v4(b, out);
}

bool
uuid_valid(const char *s)
{
	static const char *hex = "0123456789abcdefABCDEF";

	if (strlen(s) != UUID_STRLEN)
		return false;
	for (int i = 0; i < UUID_STRLEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : strchr(hex, s[i]) == NULL || s[i] == '\0')
			return false;
	}
	return true;
}

void
time_rfc3339(const struct timespec *ts, char *out, size_t outlen)
{
	struct tm tm;
	char base[24];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%06ldZ", base, ts->tv_nsec / 1000);
}

void
time_now_rfc3339(char *out, size_t outlen)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	time_rfc3339(&ts, out, outlen);
}

long long
time_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
