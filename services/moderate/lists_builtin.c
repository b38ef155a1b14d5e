/*
 * services/moderate/lists_builtin.c - the starter word lists, written for
 * this project: insults and profanity, SARA hatred, online-gambling
 * promotion, pornography and known hoax phrases, plus the starter domain
 * lists. A trailing '*' lets a pattern end inside a word ("anjingnya").
 * Larger lists are loaded from files (SIMPUL_MODERATE_LISTS).
 */
#include "lists_builtin.h"

const struct mod_builtin_pattern mod_builtin_patterns[] = {
	/* insults and profanity (some words are also plain nouns: weight 2) */
	{0, "anjing*", 3}, {0, "anjir", 2}, {0, "bangsat*", 4}, {0, "bajingan*", 4},
	{0, "babi", 2}, {0, "goblok*", 4}, {0, "goblog", 4}, {0, "tolol*", 4}, {0, "bego", 3},
	{0, "idiot", 3}, {0, "kampret", 3}, {0, "keparat", 4}, {0, "brengsek", 4}, {0, "asu", 3},
	{0, "jancok", 4}, {0, "jancuk", 4}, {0, "cuk", 2}, {0, "taik", 3}, {0, "tai", 2},
	{0, "sialan", 2}, {0, "dungu", 3}, {0, "bodoh", 2}, {0, "lonte", 5}, {0, "pelacur", 4},
	{0, "perek", 4}, {0, "sundal", 4}, {0, "bencong", 3}, {0, "banci", 2}, {0, "biadab", 3},
	{0, "laknat", 3}, {0, "bedebah", 3}, {0, "sinting", 2}, {0, "edan", 2}, {0, "sarap", 2},
	{0, "monyet", 3}, {0, "kunyuk", 3}, {0, "bangke", 3}, {0, "bangkai", 2}, {0, "kurang ajar", 3},
	{0, "anak haram", 4}, {0, "otak udang", 3}, {0, "muka tembok", 3}, {0, "sampah masyarakat", 3},
	{0, "najis", 2}, {0, "setan", 2}, {0, "iblis", 2}, {0, "kampungan", 2}, {0, "bacot*", 3},
	{0, "bacod", 3}, {0, "congor", 3}, {0, "pantek", 4}, {0, "kimak", 4}, {0, "pukimak", 5},
	{0, "ngehe", 3}, {0, "budek", 2}, {0, "geblek", 3}, {0, "sontoloyo", 3}, {0, "pecundang", 2},
	{0, "kontol*", 5}, {0, "memek*", 5}, {0, "ngentot*", 5}, {0, "jembut", 4}, {0, "bangsad", 4},
	{0, "fuck*", 4}, {0, "shit", 3}, {0, "bitch", 4}, {0, "asshole", 4}, {0, "bastard", 4},
	/* SARA: hatred against ethnicity, religion, race or group */
	{1, "kafir", 3}, {1, "kafir laknat", 6}, {1, "bunuh kafir", 8}, {1, "halal darahnya", 8},
	{1, "usir cina", 7}, {1, "dasar cina", 6}, {1, "cina babi", 8}, {1, "aseng", 3},
	{1, "antek aseng", 5}, {1, "antek asing", 4}, {1, "antek pki", 5}, {1, "ganyang", 4},
	{1, "bantai", 4}, {1, "basmi", 3}, {1, "musnahkan", 3}, {1, "kadrun", 5}, {1, "cebong", 4},
	{1, "onta", 2}, {1, "aliran sesat", 3}, {1, "agama sesat", 5}, {1, "kaum sodom", 5},
	{1, "pribumi asli", 2}, {1, "bukan pribumi", 4}, {1, "dasar negro", 7}, {1, "ras rendah", 7},
	{1, "suku rendah", 7}, {1, "dasar batak", 5}, {1, "dasar jawa", 5}, {1, "dasar padang", 5},
	{1, "dasar madura", 5}, {1, "dasar ambon", 5}, {1, "dasar papua", 5}, {1, "monyet papua", 8},
	{1, "kristen kafir", 7}, {1, "islam teroris", 7}, {1, "laknatullah", 4}, {1, "murtad", 2},
	{1, "penista agama", 3}, {1, "bakar gereja", 8}, {1, "bakar masjid", 8}, {1, "rezim", 1},
	/* online-gambling promotion */
	{2, "slot gacor", 8}, {2, "gacor", 4}, {2, "maxwin", 7}, {2, "max win", 5}, {2, "togel", 6},
	{2, "judi online", 6}, {2, "judol", 6}, {2, "situs judi", 7}, {2, "deposit pulsa", 5},
	{2, "bonus new member", 7}, {2, "rtp live", 7}, {2, "rtp slot", 7}, {2, "scatter", 3},
	{2, "pragmatic play", 6}, {2, "slot online", 7}, {2, "slot88", 8}, {2, "bandar togel", 8},
	{2, "bandar bola", 7}, {2, "sbobet", 7}, {2, "totomacau", 7}, {2, "toto macau", 7},
	{2, "link alternatif", 4}, {2, "pola gacor", 8}, {2, "bocoran slot", 8}, {2, "jackpot", 3},
	{2, "casino online", 7}, {2, "kasino", 4}, {2, "poker online", 7}, {2, "domino qq", 7},
	{2, "judi bola", 7}, {2, "prediksi togel", 8}, {2, "angka jitu", 5}, {2, "zeus", 2},
	{2, "gates of olympus", 7}, {2, "mahjong ways", 7}, {2, "anti rungkad", 8},
	{2, "wd berapapun dibayar", 8}, {2, "depo 10k", 7}, {2, "depo", 2},
	/* pornography */
	{3, "bokep*", 7}, {3, "video mesum", 7}, {3, "mesum", 3}, {3, "ngewe", 6}, {3, "porno*", 5},
	{3, "bugil", 5}, {3, "telanjang", 3}, {3, "open bo", 8}, {3, "open booking", 6},
	{3, "vcs", 5}, {3, "video call sex", 8}, {3, "colmek", 7}, {3, "coli", 4}, {3, "sange", 5},
	{3, "toket", 6}, {3, "tante girang", 6}, {3, "pijat plus", 6}, {3, "esek esek", 5},
	{3, "xxx", 5}, {3, "hentai", 6}, {3, "onlyfans", 5}, {3, "link bokep", 8}, {3, "cewek bispak", 7},
	{3, "bispak", 6}, {3, "ayam kampus", 5}, {3, "pap tt", 7},
	/* known hoax phrases (chain messages and fake claims) */
	{4, "sebarkan sebelum dihapus", 5}, {4, "viralkan", 2}, {4, "bagikan ke semua grup", 4},
	{4, "jangan putus di kamu", 5}, {4, "info dari grup sebelah", 4}, {4, "copas dari grup sebelah", 4},
	{4, "media tidak memberitakan", 4}, {4, "dokter tidak mau anda tahu", 5},
	{4, "vaksin mengandung chip", 6}, {4, "chip dalam vaksin", 6}, {4, "5g menyebarkan virus", 6},
	{4, "menyembuhkan segala penyakit", 4}, {4, "100 persen ampuh", 3}, {4, "bumi datar", 3},
	{4, "pesan berantai", 3}, {4, "uang gratis dari pemerintah", 5}, {4, "klik link berikut", 3},
	{4, "daftar bansos lewat link", 6}, {4, "selamat anda mendapatkan", 5},
	{4, "transfer biaya admin", 6}, {4, "akan terjadi gempa besar", 5}, {4, "berita ini dirahasiakan", 5},
	{4, "sebelum dihapus pemerintah", 5}, {4, "wajib share", 3},
};
const unsigned mod_builtin_patterns_count =
	sizeof(mod_builtin_patterns) / sizeof(mod_builtin_patterns[0]);

/* Domain suffixes: allow (government, schools, villages) and deny. */
const char *const mod_builtin_allow[] = {"go.id", "desa.id", "ac.id", "sch.id", "kominfo.go.id",
					 "lapor.go.id"};
const unsigned mod_builtin_allow_count = sizeof(mod_builtin_allow) / sizeof(mod_builtin_allow[0]);
const char *const mod_builtin_deny[] = {"bit.ly", "s.id", "tinyurl.com", "cutt.ly", "shorturl.at"};
const unsigned mod_builtin_deny_count = sizeof(mod_builtin_deny) / sizeof(mod_builtin_deny[0]);

/* Words that make a domain a gambling or porn site whatever its suffix. */
const char *const mod_builtin_bad_domain_words[] = {
	"slot", "gacor", "togel", "judi", "casino", "toto", "sbobet", "poker", "maxwin", "bokep",
	"porn", "xxx", "bet88", "jackpot"};
const unsigned mod_builtin_bad_domain_words_count =
	sizeof(mod_builtin_bad_domain_words) / sizeof(mod_builtin_bad_domain_words[0]);
