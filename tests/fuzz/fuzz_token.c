/* libFuzzer target: access-token verification on arbitrary text. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char pk[TOKEN_PK_LEN], sk[TOKEN_SK_LEN];
	static int ready;
	struct token_claims out;
	char *text;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		crypto_sign_keypair(pk, sk);
		ready = 1;
	}
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	token_verify(text, pk, 1700000000, &out);
	free(text);
	return 0;
}
