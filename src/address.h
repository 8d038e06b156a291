/*
 * NAME
 *   address.h - mail address normalisation (pure functions).
 *
 * SUMMARY
 *   One canonical form for every address leadgate compares or stores:
 *   local part and domain lower-cased (UTF-8 aware), the domain in its
 *   Unicode form (xn-- labels decoded, NFC), no trailing dot, no angle
 *   brackets, no surrounding blanks. Matching is then byte equality.
 */
#ifndef LG_ADDRESS_H
#define LG_ADDRESS_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	char *email;   /* canonical address, owned; NULL when unparseable */
	char *name;    /* decoded display name, UTF-8, owned; NULL when none */
} lg_address;

/* Canonical form of @raw ("Foo@Example.COM", "<a@xn--bcher-kva.de>").
 * Returns a newly allocated string, or NULL when @raw is not an address
 * (no '@', empty part, control characters, not UTF-8). */
char *lg_addr_normalize(const char *raw);

/* The domain part of a canonical address (borrowed pointer into @email),
 * or NULL when there is none. */
const char *lg_addr_domain(const char *email);

/* TRUE when the local part looks like an address nobody reads
 * (no-reply, noreply, donotreply, mailer-daemon, postmaster, bounce...). */
gboolean lg_addr_is_noreply(const char *email);

/* TRUE for mailer-daemon / postmaster style local parts. */
gboolean lg_addr_is_system(const char *email);

lg_address *lg_address_new(const char *email, const char *name);
void lg_address_free(lg_address *addr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(lg_address, lg_address_free)

G_END_DECLS

#endif
