/*
 * tests/e2e/webhook_sig.h - an independent Standard Webhooks signature check
 * (OpenSSL HMAC-SHA256 over "id.timestamp.body" with the base64-decoded
 * part of a "whsec_..." secret) for tests that receive notify's webhooks.
 */
#ifndef TESTS_E2E_WEBHOOK_SIG_H
#define TESTS_E2E_WEBHOOK_SIG_H

#include <stdbool.h>
#include <stddef.h>

/* True if any "v1,<base64>" in sig_header is the signature of id.ts.body. */
bool webhook_sig_ok(const char *secret, const char *id, const char *ts, const char *body,
		    size_t body_len, const char *sig_header);

#endif
