/*
 * NAME
 *   rules_int.h - the rules engine's inside: tokens, diagnostics, the
 *   compiled rule tree, and the three stages that share them.
 *
 * SUMMARY
 *   A rule file goes through three stages:
 *
 *     rules_lex.c     bytes -> tokens (RFC 5228 §8.1 lexical grammar)
 *     rules_parse.c   tokens -> compiled tree (grammar of §8.2, then the
 *                     meaning of each command and test; PCRE2 patterns are
 *                     compiled and JIT-compiled here, once)
 *     rules_eval.c    tree + message -> lg_rule_result
 *
 *   rules.c ties them together (lg_rules_load and friends).
 *
 *   Every error is a diagnostic with its file, line and column; a file with
 *   any diagnostic yields no tree. Lines and columns count from 1; a column
 *   counts characters (a UTF-8 sequence is one, so is a tab).
 *
 *   A compiled tree is never changed after load: lg_rules_eval() only reads
 *   it, so any number of threads may evaluate one set at once. Everything
 *   mutable (PCRE2 match data, case-folded copies of the message) lives in
 *   the evaluation's own context.
 */
#ifndef LG_RULES_INT_H
#define LG_RULES_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <glib.h>
#include "rules.h"

G_BEGIN_DECLS

/* ---- diagnostics ------------------------------------------------------ */

typedef struct {
	const char *file;   /* borrowed: the name used in messages */
	GPtrArray *lines;   /* char*: "file:line:column: error: message" */
	guint start;        /* index in @lines of this file's first diagnostic */
} rules_diag;

#define RULES_DIAG_MAX 50   /* past this many per file, stop reporting */
#define rules_diag_count(d) ((d)->lines->len - (d)->start)

void rules_diag_add(rules_diag *d, guint line, guint col, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

/* ---- tokens (rules_lex.c) --------------------------------------------- */

typedef enum {
	TOK_EOF = 0,
	TOK_IDENT,      /* text: the identifier */
	TOK_TAG,        /* text: the identifier after ':' (without the colon) */
	TOK_STRING,     /* text: the value, escapes and dot-stuffing undone */
	TOK_NUMBER,     /* num: the value, quantifier applied */
	TOK_SEMI,       /* ; */
	TOK_COMMA,      /* , */
	TOK_LPAREN,     /* ( */
	TOK_RPAREN,     /* ) */
	TOK_LBRACKET,   /* [ */
	TOK_RBRACKET,   /* ] */
	TOK_LBRACE,     /* { */
	TOK_RBRACE,     /* } */
	TOK_ERROR       /* a lexical error; already reported */
} rules_tok_kind;

typedef struct {
	rules_tok_kind kind;
	guint line, col;          /* where the token starts */
	guint end_line, end_col;  /* the position just after its last character */
	char *text;               /* owned (IDENT, TAG, STRING), else NULL */
	gsize len;                /* length of text (a string may hold NUL) */
	guint64 num;
} rules_token;

typedef struct {
	const char *src;      /* borrowed; the whole file */
	gsize len;
	gsize pos;
	guint line, col;
	rules_diag *diag;
	gboolean failed;      /* a lexical error ended the file */
} rules_lexer;

void rules_lex_init(rules_lexer *lx, const char *src, gsize len, rules_diag *diag);
/* Reads the next token into @tok (which it clears first). After a lexical
 * error (reported to the diagnostics) it returns TOK_ERROR once and TOK_EOF
 * from then on. */
void rules_lex_next(rules_lexer *lx, rules_token *tok);
void rules_token_clear(rules_token *tok);
/* A short description for messages: "identifier 'foo'", "';'", "end of file". */
char *rules_token_describe(const rules_token *tok);

/* ---- the compiled tree -------------------------------------------------- */

typedef enum { MT_IS, MT_CONTAINS, MT_MATCHES, MT_REGEX } rules_match;
typedef enum { CMP_CASEMAP, CMP_OCTET } rules_cmp;
typedef enum { AP_ALL, AP_LOCALPART, AP_DOMAIN } rules_part;

/* One element of a compiled :matches pattern. */
typedef enum { GLOB_LIT, GLOB_ONE, GLOB_STAR } rules_glob_op;
typedef struct {
	rules_glob_op op;
	guint off, len;      /* GLOB_LIT: bytes of rules_key.str */
} rules_glob;

typedef struct {
	char *str;           /* the key; ASCII-folded under i;ascii-casemap */
	gsize len;
	char *orig;          /* as written, for the trace */
	rules_glob *glob;    /* MT_MATCHES */
	guint n_glob;
	pcre2_code *re;      /* MT_REGEX (JIT-compiled when possible) */
	guint line, col;     /* of the key string, for warnings */
	/* the one mutable part of a loaded set, atomic (rules_eval.c): */
	gint limit_logged;   /* monotonic second + 1 of the last log line, 0: none */
	gint limit_hits;     /* PCRE2 limit hits not yet reported */
} rules_key;

typedef enum {
	T_ADDRESS, T_HEADER, T_ENVELOPE, T_EXISTS, T_SIZE, T_BODY, T_ENVIRONMENT,
	T_ALLOF, T_ANYOF, T_NOT, T_TRUE, T_FALSE
} rules_test_kind;

typedef struct rules_test rules_test;
struct rules_test {
	rules_test_kind kind;
	guint line, col;
	rules_match match;
	rules_cmp cmp;
	rules_part part;
	char **names;        /* header names / envelope parts / environment items (lower case), NULL-terminated */
	rules_key *keys;
	guint n_keys;
	gboolean over;       /* size :over (TRUE) or :under */
	guint64 limit;
	rules_test **sub;    /* allof/anyof/not */
	guint n_sub;
};

typedef enum { C_IF, C_STOP, C_TICKET, C_LEAD, C_SPAM, C_KEEP } rules_cmd_kind;

typedef struct rules_cmd rules_cmd;

typedef struct {
	rules_test *test;    /* NULL for else */
	guint line;          /* of the if/elsif/else */
	const char *word;    /* "if", "elsif", "else" (static) */
	GPtrArray *block;    /* rules_cmd* */
} rules_branch;

struct rules_cmd {
	rules_cmd_kind kind;
	guint line, col;
	GPtrArray *branches; /* C_IF: rules_branch*, if first */
	/* action arguments (NULL when not given) */
	char *organization, *priority, *type, *assign, *status;  /* ticket (+assign for lead) */
	char *source, *stage;                                     /* lead */
	char *text;          /* the action as written back, for the trace */
};

typedef struct {
	char *path;          /* as given / built from the directory */
	char *name;          /* basename, for res->where */
	GPtrArray *cmds;     /* rules_cmd* */
} rules_file;

struct lg_rules {
	GPtrArray *files;    /* rules_file*, in name order */
	pcre2_match_context *mctx;  /* limits; read-only after load */
	guint32 match_limit, depth_limit;
	gboolean log_limits;        /* lg_rules_options.log_limits */
};

/* rules_parse.c: compiles @src (the contents of @path) into a file, or
 * returns NULL after adding at least one diagnostic. */
rules_file *rules_parse_file(const char *path, const char *src, gsize len,
                             rules_diag *diag);
void rules_file_free(rules_file *f);

/* rules_eval.c */
void rules_eval_set(const lg_rules *rules, const lg_message *msg, const lg_envelope *env,
                    const lg_rule_auth *auth, const char *rcpt, lg_rule_result *res);

/* The :matches engine (exposed for tests): compiles @pat (escapes undone)
 * into @key->glob, with @key->str holding the literal bytes. */
void rules_glob_compile(rules_key *key, const char *pat, gboolean fold);
gboolean rules_glob_match(const rules_key *key, const char *s, gsize len);

G_END_DECLS

#endif
