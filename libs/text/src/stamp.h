/*
 * stamp.h - internal: content stamps of the objects an analysis reads
 * (lexicon, stopwords, stemmer). A stamp is unique per object and changes
 * whenever its content does, so a per-thread cache of analysis results
 * (analyze.c) can tell that it must forget what it knew. 0 for NULL.
 */
#ifndef TEXT_STAMP_H
#define TEXT_STAMP_H

#include <stdint.h>

#include "text/lexicon.h"
#include "text/stem.h"

uint64_t text_lexicon_stamp(const struct text_lexicon *lx);
uint64_t text_stopwords_stamp(const struct text_stopwords *sw);
uint64_t text_stemmer_stamp(const struct text_stemmer *st);

#endif
