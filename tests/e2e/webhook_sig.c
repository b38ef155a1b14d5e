/*
 * tests/e2e/webhook_sig.c - Standard Webhooks signature check for tests
 * (see webhook_sig.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhook_sig.h"

bool webhook_sig_ok(const char *secret, const char *id, const char *ts, const char *body,
		    size_t body_len, const char *sig_header)
{
	unsigned char key[128], mac[EVP_MAX_MD_SIZE];
	char want[128], *msg = NULL;
	unsigned int maclen = 0;
	size_t b64len, wlen;
	const char *b64, *p;
	int klen, mlen;

	if (strncmp(secret, "whsec_", 6) != 0)
		return false;
	b64 = secret + 6;
	b64len = strlen(b64);
	if (b64len < 4 || b64len > 160)
		return false;
	klen = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)b64len);
	if (klen < 0)
		return false;
	klen -= (b64[b64len - 1] == '=') + (b64[b64len - 2] == '=');
	mlen = asprintf(&msg, "%s.%s.%.*s", id, ts, (int)body_len, body);
	if (mlen < 0)
		return false;
	HMAC(EVP_sha256(), key, klen, (const unsigned char *)msg, (size_t)mlen, mac, &maclen);
	free(msg);
	memcpy(want, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)want + 3, mac, (int)maclen);
	wlen = strlen(want);
	for (p = sig_header; (p = strstr(p, want)) != NULL; p++)
		if ((p == sig_header || p[-1] == ' ') && (p[wlen] == '\0' || p[wlen] == ' '))
			return true;
	return false;
}
