#include "totp.h"

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

size_t
base32_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	size_t n = 0;
	uint32_t buf = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5 && n + 1 < outlen) {
			out[n++] = b32_alphabet[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0 && n + 1 < outlen)
		out[n++] = b32_alphabet[(buf << (5 - bits)) & 31];
	out[n] = '\0';
	return n;
}

int
base32_decode(const char *in, uint8_t *out, size_t outlen)
{
	uint32_t buf = 0;
	int bits = 0;
	size_t n = 0;

	for (; *in != '\0'; in++) {
		char ch = (*in >= 'a' && *in <= 'z') ? (char)(*in - 32) : *in;
		const char *p = ch ? strchr(b32_alphabet, ch) : NULL;
		if (p == NULL)
			return -1;
		buf = (buf << 5) | (uint32_t)(p - b32_alphabet);
		bits += 5;
		if (bits >= 8) {
			if (n == outlen)
				return -1;
			out[n++] = (uint8_t)(buf >> (bits - 8));
			bits -= 8;
		}
	}
	return (int)n;
}

uint32_t
hotp(const uint8_t *key, size_t keylen, uint64_t counter)
{
	uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	uint32_t bin;
	int off;

	for (int i = 7; i >= 0; i--, counter >>= 8)
		msg[i] = (uint8_t)(counter & 0xff);
	if (HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), mac, &maclen) == NULL ||
	    maclen < 20)
		return UINT32_MAX;
	off = mac[maclen - 1] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	    ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	return bin % 1000000;
}

long long
totp_match(const char *secret_b32, const char *code, long long unix_time)
{
	uint8_t key[64];
	char want[8];
	int keylen = base32_decode(secret_b32, key, sizeof(key));
	long long step = unix_time / TOTP_STEP_S;

	if (keylen <= 0 || strlen(code) != 6 || strspn(code, "0123456789") != 6)
		return -1;
	for (long long s = step - 1; s <= step + 1; s++) {
		snprintf(want, sizeof(want), "%06u", hotp(key, (size_t)keylen, (uint64_t)s));
		if (CRYPTO_memcmp(want, code, 6) == 0)
			return s;
	}
	return -1;
}
