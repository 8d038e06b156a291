/*
 * NAME
 *   rules.h - admin rule files (SPEC §4): a Sieve subset with leadgate actions.
 *
 * SUMMARY
 *   lg_rules_load() reads one file, or every *.sieve file of a directory in
 *   file-name order, and compiles it; a set with any error is refused whole
 *   (NULL, with every diagnostic in the error message, one per line, as
 *   "file:line:column: error: message"). A loaded set is immutable and may
 *   be shared between threads. lg_rules_eval() runs the set against one
 *   message for one recipient and says what it decides.
 */
#ifndef LG_RULES_H
#define LG_RULES_H

#include <glib.h>
#include "message.h"
#include "envelope.h"

G_BEGIN_DECLS

typedef struct lg_rules lg_rules;

typedef enum {
	LG_RULE_NONE = 0,   /* no decisive action: go on to the mailbox mode */
	LG_RULE_TICKET,     /* ticket [...] */
	LG_RULE_SPAM        /* spam */
} lg_rule_decision;

typedef struct {
	lg_rule_decision decision;
	char *where;           /* "20-vendors.sieve:12" of the deciding action, or NULL */
	/* ticket arguments (NULL when not given) */
	char *organization;
	char *priority;
	char *type;
	char *assign;
	char *status;
	/* lead action: fields set on the lead (NULL when not given) */
	char *lead_source;
	char *lead_assign;
	char *lead_stage;
	char *lead_where;      /* "file:line" of the last lead action, or NULL */
	/* what happened, for `rules test`: one line each */
	GPtrArray *trace;      /* char*: matched rules, ignored actions, warnings */
} lg_rule_result;

typedef struct {
	guint32 match_limit;   /* PCRE2 match limit (0: default) */
	guint32 depth_limit;   /* PCRE2 depth limit (0: default) */
	gboolean log_limits;   /* a regex that hits a PCRE2 limit is logged with
	                        * g_warning, with its file and line, at most once
	                        * a minute per key (for daemons; `rules test`
	                        * reads the trace instead) */
} lg_rules_options;

/* @path: a directory (its *.sieve files, in name order) or one file. A
 * missing directory is an empty set. */
lg_rules *lg_rules_load(const char *path, const lg_rules_options *opts, GError **error);
void lg_rules_free(lg_rules *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_rules, lg_rules_free)

guint lg_rules_count(const lg_rules *rules);   /* number of files loaded */
/* number of rules, for `leadgate rules check`: each branch (if, elsif,
 * else) of a top-level if, and each action outside any if */
guint lg_rules_rule_count(const lg_rules *rules);

void lg_rules_eval(const lg_rules *rules, const lg_message *msg,
                   const lg_envelope *env, const char *rcpt, lg_rule_result *out);

/* The sender-authenticity verdicts the chain believes ([auth]), which the
 * environment test reads as "vnd.leadgate.spf" and "vnd.leadgate.dmarc". */
typedef struct {
	const char *spf;       /* pass, fail, softfail, neutral, none, temperror, permerror; NULL: unknown */
	const char *dmarc;     /* from a trusted Authentication-Results; NULL: unknown */
} lg_rule_auth;

/* lg_rules_eval with the verdicts (@auth may be NULL: all unknown). */
void lg_rules_eval_auth(const lg_rules *rules, const lg_message *msg, const lg_envelope *env,
                        const lg_rule_auth *auth, const char *rcpt, lg_rule_result *out);
void lg_rule_result_clear(lg_rule_result *res);

G_END_DECLS

#endif
