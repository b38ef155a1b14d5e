/*
 * services/notify/sign.c - Standard Webhooks signatures: secrets
 * "whsec_<base64>", and "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "notify.h"
#include "util/err.h"
#include "util/ids.h"

void notify_secret_new(char out[64])
{
	unsigned char raw[24];

	if (util_random_bytes(raw, sizeof(raw)) != 0)
		memset(raw, 0, sizeof(raw)); /* util_random_bytes only fails without getrandom */
	memcpy(out, NOTIFY_SECRET_PREFIX, sizeof(NOTIFY_SECRET_PREFIX) - 1);
	EVP_EncodeBlock((unsigned char *)out + sizeof(NOTIFY_SECRET_PREFIX) - 1, raw, sizeof(raw));
}

/* The HMAC key of a secret: base64-decoded after the prefix. */
static int secret_key(const char *secret, unsigned char *key, int *keylen)
{
	size_t plen = sizeof(NOTIFY_SECRET_PREFIX) - 1;
	size_t n;
	int len;

	if (strncmp(secret, NOTIFY_SECRET_PREFIX, plen) != 0) {
		n = strlen(secret);
		if (n == 0 || n > 128)
			return UTIL_EINVAL;
		memcpy(key, secret, n);
		*keylen = (int)n;
		return 0;
	}
	secret += plen;
	n = strlen(secret);
	if (n == 0 || n % 4 != 0 || n > 128)
		return UTIL_EINVAL;
	len = EVP_DecodeBlock(key, (const unsigned char *)secret, (int)n);
	if (len < 0)
		return UTIL_EINVAL;
	/* EVP_DecodeBlock counts padding bytes as zeros: drop them. */
	if (secret[n - 1] == '=')
		len--;
	if (secret[n - 2] == '=')
		len--;
	*keylen = len;
	return 0;
}

int notify_sign(const char *secret, const char *id, int64_t ts, const char *body, size_t len,
		char out[NOTIFY_SIG_MAX])
{
	unsigned char key[128], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	unsigned char *msg = NULL;
	char prefix[160];
	int keylen = 0, plen;
	int rc = UTIL_EINVAL;

	if (secret_key(secret, key, &keylen) != 0)
		return UTIL_EINVAL;
	plen = snprintf(prefix, sizeof(prefix), "%s.%" PRId64 ".", id, ts);
	if (plen < 0 || (size_t)plen >= sizeof(prefix))
		return UTIL_EINVAL;
	msg = malloc((size_t)plen + len + 1);
	if (!msg)
		return UTIL_ENOMEM;
	memcpy(msg, prefix, (size_t)plen);
	if (len)
		memcpy(msg + plen, body, len);
	if (!HMAC(EVP_sha256(), key, keylen, msg, (size_t)plen + len, mac, &maclen))
		goto out;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
	rc = 0;
out:
	free(msg);
	return rc;
}
