#include "turncred.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int
turncred_make(const unsigned char *secret, size_t secret_len, long long expiry,
    const char *user, char *username, size_t ulen,
    char credential[TURNCRED_CREDENTIAL_LEN])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int n;

	if (ulen > 0)
		username[0] = '\0';
	credential[0] = '\0';
	if (user == NULL || *user == '\0' || expiry < 0 || secret_len > (size_t)INT_MAX)
		return -1;
	n = snprintf(username, ulen, "%lld:%s", expiry, user);
	if (n < 0 || (size_t)n >= ulen) {
		if (ulen > 0)
			username[0] = '\0';
		return -1;
	}
	if (HMAC(EVP_sha1(), secret, (int)secret_len, (const unsigned char *)username,
	    (size_t)n, mac, &maclen) == NULL || maclen != 20) {
		username[0] = '\0';
		return -1;
	}
	sodium_bin2base64(credential, TURNCRED_CREDENTIAL_LEN, mac, maclen,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(mac, sizeof(mac));
	return 0;
}
