// SPDX-License-Identifier: BSD-2-Clause
/*
 * The tenants file (tenants.h): parsed whole before the broker starts
 * anything, each refusal naming its line and what is wrong, so that a
 * typo never grants a netdev or makes a tenant an admin.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tenants.h"
#include "text.h"

/* 1 to TENANT_NAME_MAX letters, digits, '-' or '_', from a letter. */
static bool
name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > TENANT_NAME_MAX || !isalpha((unsigned char)s[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* A decimal id from 1 to 4294967294 (0 is root's, -1 is nobody's). */
static bool
id_parse(const char *s, size_t len, uint32_t *id)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len > 10)
		return false;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (!v || v >= 0xffffffffu || (len > 1 && s[0] == '0'))
		return false;
	*id = (uint32_t)v;
	return true;
}

/*
 * A netdev pattern: a name (1 to IF_NAMESIZE - 1 characters, none of
 * '/', ':', '*', '+' or blanks), or such a prefix (maybe empty: every
 * netdev) ending in '*' or '+'.
 */
static bool
pattern_parse(const char *s, size_t len, char *text, bool *wild)
{
	size_t i;

	*wild = len && (s[len - 1] == '*' || s[len - 1] == '+');
	if (*wild)
		len--;
	if ((!len && !*wild) || len >= IF_NAMESIZE)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == '*' || s[i] == '+' ||
		    s[i] == ',' || (unsigned char)s[i] <= ' ' ||
		    (unsigned char)s[i] >= 0x7f)
			return false;
	if (!*wild && ((len == 1 && s[0] == '.') ||
			  (len == 2 && s[0] == '.' && s[1] == '.')))
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	return true;
}

static bool
has_id(const uint32_t *ids, unsigned n, uint32_t id)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* The tenant of ts[0..n) other than self whose uids (or gids) hold id. */
static const struct tenant *
id_owner(const struct tenant *ts, unsigned n, const struct tenant *self,
    uint32_t id, bool gid)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (&ts[i] != self &&
		    (gid ? has_id(ts[i].gids, ts[i].ngids, id)
			 : has_id(ts[i].uids, ts[i].nuids, id)))
			return &ts[i];
	return NULL;
}

static const char *const quota_names[TQ__MAX] = {
    [TQ_CUBES] = "cubes",
    [TQ_PORTS] = "ports",
    [TQ_PROGRAMS] = "programs",
    [TQ_MAP_BYTES] = "map-bytes",
    [TQ_RPS] = "rps",
    [TQ_PKTIN_PPS] = "pktin-pps",
};

const char *
tenant_quota_name(enum tenant_quota q)
{
	return q < TQ__MAX ? quota_names[q] : "?";
}

/* The quota key klen bytes at key names, or -1. */
static int
quota_key(const char *key, size_t klen)
{
	int q;

	for (q = 0; q < TQ__MAX; q++)
		if (strlen(quota_names[q]) == klen &&
		    !memcmp(quota_names[q], key, klen))
			return q;
	return -1;
}

/*
 * A quota's value: decimal, 0 to TENANT_QUOTA_MAX (map-bytes: a K, M or
 * G suffix multiplies by 1024, 1024^2, 1024^3; rps at least 1: a tenant
 * whose every request is refused is better not listed).
 */
static int
quota_parse(struct tenant *t, int q, const char *val, size_t vlen,
    unsigned line, char *err, size_t errlen)
{
	uint64_t v = 0, mul = 1;
	size_t i, n = vlen;

	if (q == TQ_MAP_BYTES && n) {
		char u = val[n - 1];

		mul = u == 'K' || u == 'k'   ? 1ull << 10
		      : u == 'M' || u == 'm' ? 1ull << 20
		      : u == 'G' || u == 'g' ? 1ull << 30
					     : 1;
		if (mul > 1)
			n--;
	}
	for (i = 0; i < n && v <= TENANT_QUOTA_MAX; i++) {
		if (!isdigit((unsigned char)val[i]))
			break;
		v = v * 10 + (uint64_t)(val[i] - '0');
	}
	if (!n || i < n || (n > 1 && val[0] == '0') ||
	    v > TENANT_QUOTA_MAX / mul || (q == TQ_RPS && !v)) {
		snprintf(err, errlen,
		    "line %u: tenant '%s': %s '%.*s' is not a number from %d "
		    "to %llu%s",
		    line, t->name, quota_names[q], (int)(vlen > 24 ? 24 : vlen),
		    val, q == TQ_RPS ? 1 : 0,
		    (unsigned long long)TENANT_QUOTA_MAX,
		    q == TQ_MAP_BYTES ? " (bytes, or with a suffix K, M or G)"
				      : "");
		return -EINVAL;
	}
	t->quota[q] = v * mul;
	t->has_quota[q] = true;
	return 0;
}

bool
tenant_bucket_take(struct tenant_bucket *k, uint64_t rate, int64_t now_ms)
{
	uint64_t full = rate * 1000;

	if (!k->primed || now_ms < k->last_ms) {
		k->primed = true;
		k->mtokens = full;
		k->last_ms = now_ms;
	} else if (now_ms > k->last_ms) {
		uint64_t dt = (uint64_t)(now_ms - k->last_ms);

		/* rate * dt milli-tokens: dt ms of rate a second. */
		k->mtokens = dt >= 1000 || k->mtokens + rate * dt >= full
				 ? full
				 : k->mtokens + rate * dt;
		k->last_ms = now_ms;
	}
	if (k->mtokens < 1000)
		return false;
	k->mtokens -= 1000;
	return true;
}

/* One key=value of line's tenant t (the tenants before it: ts[0..k)). */
static int
field_parse(struct tenant *ts, unsigned k, const char *key, size_t klen,
    const char *val, size_t vlen, unsigned line, char *err, size_t errlen)
{
	struct tenant *t = &ts[k];
	const struct tenant *o;
	bool uid = klen == 3 && !memcmp(key, "uid", 3);
	bool gid = klen == 3 && !memcmp(key, "gid", 3);
	const char *p = val, *end = val + vlen, *comma;
	uint32_t id;
	size_t l;

	int q = quota_key(key, klen);

	if (q >= 0)
		return quota_parse(t, q, val, vlen, line, err, errlen);
	if (!uid && !gid && !(klen == 7 && !memcmp(key, "netdevs", 7))) {
		snprintf(err, errlen,
		    "line %u: tenant '%s': unknown key '%.*s' (the keys are "
		    "uid=, gid=, netdevs= and the quotas cubes=, ports=, "
		    "programs=, map-bytes=, rps=, pktin-pps=)",
		    line, t->name, (int)(klen > 32 ? 32 : klen), key);
		return -EINVAL;
	}
	if (!vlen) {
		snprintf(err, errlen, "line %u: tenant '%s': %.*s= is empty",
		    line, t->name, (int)klen, key);
		return -EINVAL;
	}
	for (; p < end; p = comma + 1) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (!comma)
			comma = end;
		l = (size_t)(comma - p);
		if (uid || gid) {
			unsigned *nids = uid ? &t->nuids : &t->ngids;
			uint32_t *ids = uid ? t->uids : t->gids;

			if (!id_parse(p, l, &id)) {
				snprintf(err, errlen,
				    "line %u: tenant '%s': %s '%.*s' is not a "
				    "number from 1 to 4294967294%s",
				    line, t->name, uid ? "uid" : "gid",
				    (int)(l > 20 ? 20 : l), p,
				    l == 1 && p[0] == '0'
					? " (0 is root's: root is an admin)"
					: "");
				return -EINVAL;
			}
			if (has_id(ids, *nids, id)) {
				snprintf(err, errlen,
				    "line %u: tenant '%s': %s %u twice", line,
				    t->name, uid ? "uid" : "gid", id);
				return -EINVAL;
			}
			if ((o = id_owner(ts, k, t, id, gid))) {
				snprintf(err, errlen,
				    "line %u: tenant '%s': %s %u is tenant "
				    "'%s''s already (one tenant per %s)",
				    line, t->name, uid ? "uid" : "gid", id,
				    o->name, uid ? "uid" : "gid");
				return -EINVAL;
			}
			if (*nids == TENANT_IDS_MAX) {
				snprintf(err, errlen,
				    "line %u: tenant '%s': over %d %ss", line,
				    t->name, TENANT_IDS_MAX,
				    uid ? "uid" : "gid");
				return -EINVAL;
			}
			ids[(*nids)++] = id;
			continue;
		}
		if (t->nnetdevs == TENANT_NETDEVS_MAX) {
			snprintf(err, errlen,
			    "line %u: tenant '%s': over %d netdev patterns",
			    line, t->name, TENANT_NETDEVS_MAX);
			return -EINVAL;
		}
		if (!pattern_parse(p, l, t->netdevs[t->nnetdevs].text,
			&t->netdevs[t->nnetdevs].wild)) {
			snprintf(err, errlen,
			    "line %u: tenant '%s': netdev pattern '%.*s' is "
			    "neither a netdev name (1 to %d characters, no "
			    "'/', ':', '*', '+' or blanks) nor such a prefix "
			    "ending in '*' or '+'",
			    line, t->name, (int)(l > 32 ? 32 : l), p,
			    IF_NAMESIZE - 1);
			return -EINVAL;
		}
		t->nnetdevs++;
	}
	return 0;
}

/* One line (no newline, NUL-terminated in buf) into ts[*n]. */
static int
line_parse(struct tenant *ts, unsigned *n, char *buf, unsigned line, char *err,
    size_t errlen)
{
	char *tok, *save = NULL, *eq;
	unsigned seen = 0, bit;
	struct tenant *t;
	unsigned i;

	tok = strtok_r(buf, " \t\r", &save);
	if (!tok || tok[0] == '#')
		return 0;
	if (*n == TENANTS_MAX) {
		snprintf(
		    err, errlen, "line %u: over %d tenants", line, TENANTS_MAX);
		return -EINVAL;
	}
	if (!name_ok(tok)) {
		snprintf(err, errlen,
		    "line %u: tenant name '%.40s': use 1 to %d letters, "
		    "digits, '-' or '_', starting with a letter",
		    line, tok, TENANT_NAME_MAX);
		return -EINVAL;
	}
	if (!strcmp(tok, "admin")) {
		snprintf(err, errlen,
		    "line %u: tenant name 'admin' is reserved (it names "
		    "the admins' cubes in 'cubicle show cubes')",
		    line);
		return -EINVAL;
	}
	for (i = 0; i < *n; i++)
		if (!strcmp(ts[i].name, tok)) {
			snprintf(err, errlen,
			    "line %u: tenant '%s' twice (first on an earlier "
			    "line)",
			    line, tok);
			return -EINVAL;
		}
	t = &ts[*n];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", tok);
	while ((tok = strtok_r(NULL, " \t\r", &save))) {
		if (!(eq = strchr(tok, '='))) {
			snprintf(err, errlen,
			    "line %u: tenant '%s': '%.40s' is not key=value",
			    line, t->name, tok);
			return -EINVAL;
		}
		bit = !strncmp(tok, "uid=", 4)       ? 1
		      : !strncmp(tok, "gid=", 4)     ? 2
		      : !strncmp(tok, "netdevs=", 8) ? 4
						     : 0;
		if (!bit && quota_key(tok, (size_t)(eq - tok)) >= 0)
			bit = 8u << quota_key(tok, (size_t)(eq - tok));
		if (seen & bit) {
			snprintf(err, errlen,
			    "line %u: tenant '%s': %.*s= twice (one key "
			    "takes a comma-separated list)",
			    line, t->name, (int)(eq - tok), tok);
			return -EINVAL;
		}
		seen |= bit;
		if (field_parse(ts, *n, tok, (size_t)(eq - tok), eq + 1,
			strlen(eq + 1), line, err, errlen))
			return -EINVAL;
	}
	if (!t->nuids && !t->ngids) {
		snprintf(err, errlen,
		    "line %u: tenant '%s': no uid= or gid= (who is it?)", line,
		    t->name);
		return -EINVAL;
	}
	(*n)++;
	return 0;
}

int
tenants_parse(const char *text, size_t len, struct tenant **out, unsigned *n,
    char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	struct tenant *ts;
	unsigned line = 0;
	char buf[4096];

	*out = NULL;
	*n = 0;
	if (!(ts = calloc(TENANTS_MAX, sizeof(*ts)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (p < end) {
		if (cubi_text_line(
			&p, end, buf, sizeof(buf), &line, err, errlen))
			goto fail;
		if (line_parse(ts, n, buf, line, err, errlen))
			goto fail;
	}
	*out = ts;
	return 0;
fail:
	free(ts);
	*n = 0;
	return -EINVAL;
}

int
tenants_load(const char *path, struct tenant **out, unsigned *n, char *err,
    size_t errlen)
{
	char *text = NULL, msg[400];
	size_t len = 0;
	struct stat st;
	ssize_t got;
	int fd, r;

	*out = NULL;
	*n = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st)) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > TENANTS_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path,
		    !S_ISREG(st.st_mode) ? "not a regular file" : "over 1 MiB");
		close(fd);
		return -EINVAL;
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (len < (size_t)st.st_size &&
	       (got = read(fd, text + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)got;
	close(fd);
	r = tenants_parse(text, len, out, n, msg, sizeof(msg));
	free(text);
	if (r)
		snprintf(err, errlen, "%s: %s", path, msg);
	return r;
}

const struct tenant *
tenants_of_peer(const struct tenant *t, unsigned n, uint32_t uid, uint32_t gid,
    const uint32_t *groups, unsigned ngroups, bool *ambiguous)
{
	const struct tenant *found = NULL;
	unsigned i, j;

	*ambiguous = false;
	for (i = 0; i < n; i++)
		if (has_id(t[i].uids, t[i].nuids, uid))
			return &t[i];
	for (i = 0; i < n; i++) {
		bool in = has_id(t[i].gids, t[i].ngids, gid);

		for (j = 0; !in && j < ngroups; j++)
			in = has_id(t[i].gids, t[i].ngids, groups[j]);
		if (!in)
			continue;
		if (found) {
			*ambiguous = true;
			return NULL;
		}
		found = &t[i];
	}
	return found;
}

const struct tenant *
tenants_find(const struct tenant *t, unsigned n, const char *name)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

bool
tenant_netdev_ok(const struct tenant *t, const char *ifname)
{
	unsigned i;
	size_t l;

	for (i = 0; i < t->nnetdevs; i++) {
		l = strlen(t->netdevs[i].text);
		if (t->netdevs[i].wild ? !strncmp(ifname, t->netdevs[i].text, l)
				       : !strcmp(ifname, t->netdevs[i].text))
			return true;
	}
	return false;
}
