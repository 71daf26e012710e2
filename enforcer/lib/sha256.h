/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * SHA-256 (FIPS 180-4), small and self-contained: it only names compiled
 * policies (content digests), so speed matters less than having no
 * dependency in the pure modules.
 */
#ifndef CGFENCE_SHA256_H
#define CGFENCE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_BLOCK_LEN  64

struct sha256_ctx {
	uint32_t state[8];
	uint64_t nbytes; /* total fed so far; nbytes % 64 are buffered */
	uint8_t block[SHA256_BLOCK_LEN];
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
/* Writes the digest and wipes ctx; call sha256_init() to reuse it. */
void sha256_final(struct sha256_ctx *ctx, uint8_t out[SHA256_DIGEST_LEN]);

void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

#endif
