/*
 * services/moderate/lists_builtin.h - the starter lists (lists_builtin.c).
 */
#ifndef MODERATE_LISTS_BUILTIN_H
#define MODERATE_LISTS_BUILTIN_H

struct mod_builtin_pattern {
	int category;        /* enum mod_category */
	const char *pattern; /* trailing '*': may end inside a word */
	float weight;
};

extern const struct mod_builtin_pattern mod_builtin_patterns[];
extern const unsigned mod_builtin_patterns_count;
extern const char *const mod_builtin_allow[];
extern const unsigned mod_builtin_allow_count;
extern const char *const mod_builtin_deny[];
extern const unsigned mod_builtin_deny_count;
extern const char *const mod_builtin_bad_domain_words[];
extern const unsigned mod_builtin_bad_domain_words_count;

#endif
