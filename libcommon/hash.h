/* A small, fast string hash for in-memory tables (not for anything an
 * attacker could exploit to collide on purpose: keys are our own or
 * bounded per client). */
#ifndef ENCLAVR_HASH_H
#define ENCLAVR_HASH_H

#include <stdint.h>

/* FNV-1a, 32 bits. */
static inline uint32_t
hash_fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
