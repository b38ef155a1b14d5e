/*
 * builtin_tables.h - internal: the shipped starter slang table and stopword
 * list (NULL-terminated), defined in builtin_tables.c.
 */
#ifndef TEXT_BUILTIN_TABLES_H
#define TEXT_BUILTIN_TABLES_H

extern const char *const text_builtin_slang[][2];
extern const char *const text_builtin_stopwords[];

#endif
