// SPDX-License-Identifier: BSD-2-Clause
/*
 * Atomic map transactions (docs/architecture.md, "Atomic map
 * transactions").  A swap set S of a cube's object is
 *   - its index map cub_sw_S: a one-entry ARRAY of one __u32, the copy
 *     the programs read; read-only to programs, written by the broker only
 *     (a framework map: workers cannot write it);
 *   - its members S__<name>: ARRAY_OF_MAPS of N copies (2 to 8, the same
 *     N for every member), every slot filled by the object's static
 *     initialisation with an inner map of the object.
 * A program reads the index once per packet and looks every member up in
 * that copy (swap.bpf.h).  swap.begin hands the worker a copy no program
 * can still be reading; the worker fills it with the ordinary map calls;
 * swap.commit writes the index (one 4-byte store: the flip) and the copy
 * that was active retires.  A retired copy is handed out again only after
 * an RCU grace period that began after its flip: XDP and tc programs run
 * under rcu_read_lock, so by then no program that read the old index is
 * still running.  The broker gets a grace period from the kernel by
 * updating a slot of an ARRAY_OF_MAPS of its own (the kernel calls
 * synchronize_rcu() for it, about 10-20 ms here).  A thread of this file
 * starts one as soon as a copy retires; one such wait covers every copy
 * retired before it began, for every cube, so back-to-back commits and
 * several services share one (coalescing).  A commit never waits; with 3
 * or more copies a begin finds the copy retired two commits ago, whose
 * grace period has usually ended.
 *
 * The reader side (swap.read, dynmon's swap-on-read) does it all in one
 * call without waiting in the steady state: it empties the copy retired
 * by the previous read (its grace period has normally ended), flips to
 * it, reads the copy it left at once, and folds what programs wrote late
 * into that copy into the next read, against a shadow of what this read
 * returned (see sw_read()).  swap.read with wait: the read before, one
 * grace period each (bench/dynmon-swap's baseline).
 *
 * State lives in the cube's struct bpfobj (o->swaps), built on first use
 * from the maps themselves: after a reload or a broker restart every copy
 * but the active one waits for one grace period before it is reused.
 * CUBICLED_TEST_SWAP_NO_GRACE=1 in cubicled's environment skips the wait
 * (tests/integration/mapswap.sh shows that packets then see a mixture).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "broker.h"
#include "cubicle/errors.h"
#include "log.h"
#include "mapbatch.h"
#include "mapswap.h"

#define REFUSE(...) (*errv = cub_err_val(CUB_E_REFUSED, __VA_ARGS__), -EPERM)
#define ERR(code, ...) (*errv = cub_err_val(code, __VA_ARGS__), -EINVAL)

#define NO_COPY UINT32_MAX

enum { PREP_NONE, PREP_RUNNING, PREP_READY };

/* A prepared fold ended (with b->lock). */
static pthread_cond_t prep_cond = PTHREAD_COND_INITIALIZER;

struct swapset {
	char name[SWAP_SET_MAX + 1];
	int index; /* the index map, in o->maps */
	uint32_t ncopies, nmembers;
	int member[SWAP_MEMBERS_MAX];                /* outer maps */
	int copy[SWAP_MEMBERS_MAX][SWAP_COPIES_MAX]; /* inner maps */
	uint32_t active;
	/* Grace sequence a copy waits for (0: free now); active: unused. */
	uint64_t retired[SWAP_COPIES_MAX];
	uint32_t filling; /* copy of the open transaction, or NO_COPY */
	uint64_t txn;     /* its id (grace.txn), 0 when none */
	/* What the swap-on-read that retired a copy returned of it, member
	 * by member, to find the late updates by (NULL: nothing pending). */
	struct shadow *shadow[SWAP_MEMBERS_MAX][SWAP_COPIES_MAX];
	bool reading; /* a swap.read works on the set without the lock */
	/* The retired copy's fold after a read (fold_thread()): PREP_RUNNING
	 * while it waits for its grace period and folds; PREP_READY when the
	 * copy is empty and pending holds its late delta, member by member. */
	uint8_t prep[SWAP_COPIES_MAX];
	uint64_t prep_id[SWAP_COPIES_MAX];
	struct ents *pending[SWAP_MEMBERS_MAX][SWAP_COPIES_MAX];
	/* A copy that may hold entries no read should see again (left by a
	 * fast read, or of unknown contents): emptied before it is used. */
	bool dirty[SWAP_COPIES_MAX];
};

struct swapsets {
	int n;
	struct swapset set[CUB_MAX_MAPS];
};

/* Grace periods, for every cube and service thread. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a grace period ended */
	pthread_cond_t kick; /* a copy retired: start one */
	uint64_t issued;     /* sequence of the last retirement */
	uint64_t done;       /* retirements a finished grace period covers */
	bool running;        /* a thread is waiting one out for the others */
	uint64_t txn;        /* transaction ids, unique across objects */
	int outer, inner;    /* the broker's own map-in-map, -1 before use */
	int no_grace;        /* -1 unknown, 0, 1 (test mode) */
} grace = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
    PTHREAD_COND_INITIALIZER, 0, 0, false, 0, -1, -1, -1};
static pthread_once_t grace_once = PTHREAD_ONCE_INIT;

static bool
set_name_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || n > SWAP_SET_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

bool
mapswap_index_name(const char *name)
{
	size_t n = strlen(SWAP_PREFIX);

	return !strncmp(name, SWAP_PREFIX, n) &&
	       set_name_ok(name + n, strlen(name + n));
}

/* name is a member of set: "<set>__<something>". */
static bool
member_of(const char *name, const char *set)
{
	size_t n = strlen(set);

	return !strncmp(name, set, n) && name[n] == '_' && name[n + 1] == '_' &&
	       name[n + 2];
}

int
mapswap_check_object(
    const char *cube, struct bpf_object *obj, struct cub_val **errv)
{
	struct bpf_map *m, *o;
	const char *set;
	uint32_t copies, members;

	bpf_object__for_each_map(m, obj)
	{
		if (bpf_map__is_internal(m) ||
		    strncmp(bpf_map__name(m), SWAP_PREFIX, strlen(SWAP_PREFIX)))
			continue;
		if (!mapswap_index_name(bpf_map__name(m)))
			return REFUSE("cube '%s': map '%s': a swap set's index "
				      "map is %s<set>, the set named by 1 to "
				      "%d lowercase letters and digits",
			    cube, bpf_map__name(m), SWAP_PREFIX, SWAP_SET_MAX);
		set = bpf_map__name(m) + strlen(SWAP_PREFIX);
		if (bpf_map__type(m) != BPF_MAP_TYPE_ARRAY ||
		    bpf_map__key_size(m) != 4 || bpf_map__value_size(m) != 4 ||
		    bpf_map__max_entries(m) != 1 ||
		    bpf_map__map_flags(m) != BPF_F_RDONLY_PROG)
			return REFUSE(
			    "cube '%s': map '%s' is not as "
			    "CUB_SWAP_SET() declares it (swap.bpf.h): "
			    "a one-entry ARRAY of a __u32, "
			    "BPF_F_RDONLY_PROG",
			    cube, bpf_map__name(m));
		copies = members = 0;
		bpf_object__for_each_map(o, obj)
		{
			if (!member_of(bpf_map__name(o), set))
				continue;
			if (bpf_map__type(o) != BPF_MAP_TYPE_ARRAY_OF_MAPS ||
			    bpf_map__max_entries(o) < 2 ||
			    bpf_map__max_entries(o) > SWAP_COPIES_MAX ||
			    (copies && bpf_map__max_entries(o) != copies))
				return REFUSE(
				    "cube '%s': swap set '%s': "
				    "member '%s' must be an "
				    "ARRAY_OF_MAPS of 2 to %d copies, "
				    "as many as the other members",
				    cube, set, bpf_map__name(o),
				    SWAP_COPIES_MAX);
			copies = bpf_map__max_entries(o);
			if (++members > SWAP_MEMBERS_MAX)
				return REFUSE("cube '%s': swap set '%s' has "
					      "more than %d members",
				    cube, set, SWAP_MEMBERS_MAX);
		}
		if (!members)
			return REFUSE("cube '%s': swap set '%s' has no member "
				      "(ARRAY_OF_MAPS named %s__<name>)",
			    cube, set, set);
	}
	return 0;
}

/*
 * One member's entries as a swap-on-read returned them: n records of the
 * key then the value (vsz bytes), in index order (arrays) or in the
 * order the read got them (hashes), sorted by key bytes by the first
 * search (shadow_sort(), off the read's path).
 */
struct shadow {
	uint32_t n, ks;
	size_t vsz;
	bool sorted;
	uint8_t rec[];
};

/* Entries of one map as a read got them: keys and values back to back. */
struct ents {
	uint32_t n, cap, ks;
	size_t vsz;
	uint8_t *keys, *vals;
};

static void
ents_free(struct ents *e)
{
	if (!e)
		return;
	free(e->keys);
	free(e->vals);
	free(e);
}

/* Copy k's shadows and prepared late deltas dropped (a job running on it
 * finds its id changed and keeps nothing). */
static void
set_drop_shadows(struct swapset *set, uint32_t k)
{
	uint32_t i;

	for (i = 0; i < SWAP_MEMBERS_MAX; i++) {
		free(set->shadow[i][k]);
		set->shadow[i][k] = NULL;
		ents_free(set->pending[i][k]);
		set->pending[i][k] = NULL;
	}
	set->prep[k] = PREP_NONE;
	set->prep_id[k] = 0;
}

struct swapsets *
mapswap_free(struct swapsets *sets)
{
	int i;
	uint32_t k;

	for (i = 0; sets && i < sets->n; i++)
		for (k = 0; k < SWAP_COPIES_MAX; k++)
			set_drop_shadows(&sets->set[i], k);
	free(sets);
	return NULL;
}

static bool
no_grace(void)
{
	if (grace.no_grace < 0) {
		const char *e = getenv("CUBICLED_TEST_SWAP_NO_GRACE");

		grace.no_grace = e && !strcmp(e, "1");
		if (grace.no_grace)
			log_warn("CUBICLED_TEST_SWAP_NO_GRACE=1: swap sets "
				 "reuse copies without a grace period (a test "
				 "mode: packets can see a mixture of sets)");
	}
	return grace.no_grace;
}

/* One RCU grace period: a slot update of a map-in-map waits for one. */
static int
synchronize(void)
{
	uint32_t zero = 0;

	if (grace.inner < 0) {
		grace.inner = bpf_map_create(
		    BPF_MAP_TYPE_ARRAY, "cub_grace_in", 4, 4, 1, NULL);
		if (grace.inner < 0)
			return -errno;
	}
	if (grace.outer < 0) {
		LIBBPF_OPTS(
		    bpf_map_create_opts, o, .inner_map_fd = grace.inner);

		grace.outer = bpf_map_create(
		    BPF_MAP_TYPE_ARRAY_OF_MAPS, "cub_grace", 4, 4, 1, &o);
		if (grace.outer < 0)
			return -errno;
	}
	return bpf_map_update_elem(grace.outer, &zero, &grace.inner, BPF_ANY)
		   ? -errno
		   : 0;
}

/*
 * One grace period for every copy retired so far, with grace.lock held
 * (dropped while it runs; nobody else starts one meanwhile): 0 or -errno.
 */
static int
grace_run(void)
{
	uint64_t start = grace.issued;
	int r;

	grace.running = true;
	pthread_mutex_unlock(&grace.lock);
	r = synchronize();
	pthread_mutex_lock(&grace.lock);
	grace.running = false;
	if (!r && start > grace.done)
		grace.done = start;
	pthread_cond_broadcast(&grace.cond);
	return r;
}

/* Wait until a grace period covers retirement seq; shared by waiters. */
static int
grace_wait(uint64_t seq)
{
	int r = 0;

	if (no_grace())
		return 0;
	pthread_mutex_lock(&grace.lock);
	while (grace.done < seq && !r) {
		if (grace.running) {
			pthread_cond_wait(&grace.cond, &grace.lock);
			continue;
		}
		r = grace_run();
		pthread_cond_signal(&grace.kick); /* retired meanwhile? */
	}
	pthread_mutex_unlock(&grace.lock);
	return r;
}

/*
 * Grace periods start as soon as a copy retires, on a thread of their own
 * (detached, for the broker's life), so that the next swap.begin usually
 * finds the copy retired before the last one free already.
 */
static void *
grace_thread(void *arg)
{
	int r;

	(void)arg;
	pthread_mutex_lock(&grace.lock);
	for (;;) {
		while (grace.running || grace.done >= grace.issued)
			pthread_cond_wait(&grace.kick, &grace.lock);
		r = grace_run();
		if (r) /* waiters run their own and report it */
			pthread_cond_wait(&grace.kick, &grace.lock);
	}
	return NULL;
}

static void
grace_thread_start(void)
{
	pthread_t t;

	if (!pthread_create(&t, NULL, grace_thread, NULL))
		pthread_detach(t);
}

static uint64_t
grace_retire(void)
{
	uint64_t seq;

	if (!no_grace())
		pthread_once(&grace_once, grace_thread_start);
	pthread_mutex_lock(&grace.lock);
	seq = ++grace.issued;
	pthread_cond_signal(&grace.kick);
	pthread_mutex_unlock(&grace.lock);
	return seq;
}

static uint64_t
grace_done(void)
{
	uint64_t d;

	if (no_grace())
		return UINT64_MAX;
	pthread_mutex_lock(&grace.lock);
	d = grace.done;
	pthread_mutex_unlock(&grace.lock);
	return d;
}

uint64_t
mapswap_grace_start(void)
{
	return grace_retire();
}

bool
mapswap_grace_over(uint64_t seq)
{
	return grace_done() >= seq;
}

int
mapswap_grace_wait(uint64_t seq)
{
	return grace_wait(seq);
}

static uint32_t
map_id(int fd)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* Lock held: the set's state, built from the maps on first use. */
static bool
maps_alike(const struct bmap *a, const struct bmap *b)
{
	return a->type == b->type && a->key_size == b->key_size &&
	       a->value_size == b->value_size &&
	       a->max_entries == b->max_entries;
}

static struct swapset *
set_get(struct cube *c, const char *name, struct cub_val **errv)
{
	struct bpfobj *o = c->obj;
	uint32_t ids[CUB_MAX_MAPS], k, id, zero = 0;
	uint64_t seq;
	char iname[sizeof(o->maps[0].name)];
	struct swapset *set;
	struct bmap *bm;
	int i, j;

	if (!o) {
		*errv = cub_err_val(
		    CUB_E_NOTFOUND, "cube '%s' has no object loaded", c->name);
		return NULL;
	}
	if (!set_name_ok(name, strlen(name))) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "swap set '%s': a set's name is 1 to %d lowercase letters "
		    "and digits",
		    name, SWAP_SET_MAX);
		return NULL;
	}
	for (i = 0; o->swaps && i < o->swaps->n; i++)
		if (!strcmp(o->swaps->set[i].name, name))
			return &o->swaps->set[i];
	snprintf(iname, sizeof(iname), "%s%s", SWAP_PREFIX, name);
	bm = bpfobj_map(o, iname);
	if (!bm) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "cube '%s' has no swap set '%s' (no map %s)", c->name, name,
		    iname);
		return NULL;
	}
	if (!o->swaps && !(o->swaps = calloc(1, sizeof(*o->swaps)))) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return NULL;
	}
	set = &o->swaps->set[o->swaps->n];
	memset(set, 0, sizeof(*set));
	snprintf(set->name, sizeof(set->name), "%s", name);
	set->index = (int)(bm - o->maps);
	set->filling = NO_COPY;
	for (i = 0; i < o->nmaps; i++)
		ids[i] = map_id(o->maps[i].fd);
	for (i = 0; i < o->nmaps; i++) {
		if (!member_of(o->maps[i].name, name) ||
		    o->maps[i].type != BPF_MAP_TYPE_ARRAY_OF_MAPS)
			continue;
		if (set->nmembers == SWAP_MEMBERS_MAX ||
		    o->maps[i].max_entries < 2 ||
		    o->maps[i].max_entries > SWAP_COPIES_MAX ||
		    (set->ncopies && o->maps[i].max_entries != set->ncopies))
			goto bad;
		set->ncopies = o->maps[i].max_entries;
		set->member[set->nmembers] = i;
		for (k = 0; k < set->ncopies; k++) {
			if (bpf_map_lookup_elem(o->maps[i].fd, &k, &id)) {
				*errv = cub_err_val(CUB_E_INVAL,
				    "cube '%s': swap set '%s': member '%s' has "
				    "no copy %u (fill every slot statically: "
				    ".values = { ... }, swap.bpf.h)",
				    c->name, name, o->maps[i].name, k);
				return NULL;
			}
			for (j = 0; j < o->nmaps && ids[j] != id; j++)
				;
			if (j == o->nmaps || o->maps[j].framework ||
			    bpf_map_type_holds_fds(o->maps[j].type)) {
				*errv = cub_err_val(CUB_E_INVAL,
				    "cube '%s': swap set '%s': copy %u of "
				    "member '%s' is not a data map of the "
				    "object",
				    c->name, name, k, o->maps[i].name);
				return NULL;
			}
			/* Copies alike: a read's bound and its shadows are
			 * sized by one copy (review11-swapread-uneven). */
			if (k && !maps_alike(&o->maps[j],
				     &o->maps[set->copy[set->nmembers][0]])) {
				*errv = cub_err_val(CUB_E_INVAL,
				    "cube '%s': swap set '%s': copy %u of "
				    "member '%s' (%s) differs from copy 0 (%s) "
				    "in type, key, value or size; a set's "
				    "copies must be alike",
				    c->name, name, k, o->maps[i].name,
				    o->maps[j].name,
				    o->maps[set->copy[set->nmembers][0]].name);
				return NULL;
			}
			set->copy[set->nmembers][k] = j;
		}
		set->nmembers++;
	}
	if (!set->nmembers)
		goto bad;
	if (bpf_map_lookup_elem(bm->fd, &zero, &set->active) ||
	    set->active >= set->ncopies) {
		*errv = cub_err_val(CUB_E_KERNEL,
		    "cube '%s': swap set '%s': index map unreadable or out of "
		    "range",
		    c->name, name);
		return NULL;
	}
	/* A program may still read any copy: each waits one grace. */
	seq = grace_retire();
	for (k = 0; k < set->ncopies; k++) {
		set->retired[k] = k == set->active ? 0 : seq;
		set->dirty[k] = k != set->active;
	}
	o->swaps->n++;
	return set;
bad:
	*errv = cub_err_val(CUB_E_INVAL,
	    "cube '%s': swap set '%s': members must be 1 to %d ARRAY_OF_MAPS "
	    "named %s__<name> of 2 to %d copies each, the same for all",
	    c->name, name, SWAP_MEMBERS_MAX, name, SWAP_COPIES_MAX);
	return NULL;
}

/* Lock held: the cube p names, if this service's, and its set. */
static struct swapset *
own_set(struct service *s, const struct cub_val *p, struct cube **cp,
    struct cub_val **errv)
{
	const char *name = cub_val__get_str(p, "cube");
	const char *set = cub_val__get_str(p, "set");
	struct cube *c;

	if (!name || !set) {
		*errv = cub_err_val(CUB_E_MISSING, "'cube' and 'set' required");
		return NULL;
	}
	c = cube_find(s->b, name);
	if (!c || c->svc != s || c->removed) {
		*errv = cub_err_val(CUB_E_PERM,
		    "cube '%s' is not a cube of service '%s'", name, s->name);
		return NULL;
	}
	*cp = c;
	return set_get(c, set, errv);
}

/* The maps of copy k: [{name (the member's, after "<set>__"), id, ...}]. */
static struct cub_val *
copy_maps(const struct cube *c, const struct swapset *set, uint32_t k)
{
	struct cub_val *maps = cub_val__array(), *m;
	const struct bmap *bm;
	uint32_t i;

	for (i = 0; i < set->nmembers; i++) {
		bm = &c->obj->maps[set->copy[i][k]];
		m = cub_val__map();
		cub_val__set(m, "name",
		    cub_val__str(c->obj->maps[set->member[i]].name +
				 strlen(set->name) + 2));
		cub_val__set(
		    m, "id", cub_val__uint((uint64_t)set->copy[i][k] + 1));
		cub_val__set(m, "type", cub_val__uint(bm->type));
		cub_val__set(m, "key_size", cub_val__uint(bm->key_size));
		cub_val__set(m, "value_size", cub_val__uint(bm->value_size));
		cub_val__set(m, "max_entries", cub_val__uint(bm->max_entries));
		cub_val__push(maps, m);
	}
	return maps;
}

/*
 * Lock held: a copy to fill, free of readers.  0 with *k, or 1 with
 * *wait: the grace sequence to wait for (lock dropped) before asking
 * again.
 */
static int
pick_free(struct swapset *set, uint32_t *k, uint64_t *wait)
{
	uint64_t done = grace_done(), best = UINT64_MAX;
	uint32_t i;

	*k = NO_COPY;
	for (i = 0; i < set->ncopies; i++) {
		if (i == set->active)
			continue;
		/* The oldest retired first: its grace began earliest. */
		if (set->retired[i] < best) {
			best = set->retired[i];
			*k = i;
		}
	}
	if (best <= done)
		return 0;
	*wait = best;
	return 1;
}

/* Entries of copy k's maps emptied: hashes and tries deleted, arrays 0. */
static int
clear_map(int fd, const struct bmap *bm, size_t vsz)
{
	struct mb_map m = {
	    .fd = fd, .type = bm->type, .key_size = bm->key_size, .vsz = vsz};
	uint32_t n, i, chunk = 1024, cur;
	uint8_t *keys, *vals, cursor[64];
	bool kernel, array = bm->type == BPF_MAP_TYPE_ARRAY ||
			     bm->type == BPF_MAP_TYPE_PERCPU_ARRAY;
	int r = 0;

	keys = malloc((size_t)chunk * (bm->key_size ?: 1));
	vals = calloc(chunk, vsz ?: 1);
	if (!keys || !vals || bm->key_size > sizeof(cursor)) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	if (array) {
		for (cur = 0; cur < bm->max_entries && !r; cur += n) {
			n = bm->max_entries - cur < chunk
				? bm->max_entries - cur
				: chunk;
			for (i = 0; i < n; i++)
				((uint32_t *)keys)[i] = cur + i;
			r = mapbatch_update(&m, keys, vals, &n, 0, 0, &kernel);
		}
	} else {
		do {
			n = chunk;
			r = mapbatch_lookup(&m, true, NULL, cursor, keys, vals,
			    &n, 0, 0, &kernel);
		} while (!r && n);
		if (r == -ENOENT)
			r = 0;
	}
	free(keys);
	free(vals);
	return r;
}

static size_t
user_vsz(const struct broker *b, const struct bmap *bm)
{
	return bpf_map_type_percpu(bm->type)
		   ? (((size_t)bm->value_size + 7) & ~(size_t)7) * b->ncpus
		   : bm->value_size;
}

/*
 * Lock held on entry and return, dropped to wait: a free copy of the set
 * p names, for a transaction (*k; *setp and *cp valid on return 0).
 */
static int
take_copy(struct service *s, const struct cub_val *p, struct cube **cp,
    struct swapset **setp, uint32_t *k, struct cub_val **errv)
{
	uint64_t wait = 0;
	int tries, r;

	for (tries = 0; tries < 4; tries++) {
		*setp = own_set(s, p, cp, errv);
		if (!*setp)
			return -ENOENT;
		/* A transaction left open is abandoned: never active, its
		 * copy is free at once. */
		if ((*setp)->filling != NO_COPY) {
			(*setp)->retired[(*setp)->filling] = 0;
			(*setp)->filling = NO_COPY;
			(*setp)->txn = 0;
		}
		if ((*setp)->reading) {
			*errv = cub_err_val(CUB_E_BUSY,
			    "swap set '%s': a swap.read is in progress",
			    (*setp)->name);
			return -EBUSY;
		}
		if (!pick_free(*setp, k, &wait)) {
			if ((*setp)->prep[*k] != PREP_RUNNING)
				return 0;
			/* Its fold runs: wait for it (not a grace try). */
			pthread_cond_wait(&prep_cond, &s->b->lock);
			tries--;
			continue;
		}
		pthread_mutex_unlock(&s->b->lock);
		r = grace_wait(wait);
		pthread_mutex_lock(&s->b->lock);
		if (r) {
			*errv = cub_err_val(CUB_E_KERNEL,
			    "swap: waiting for a grace period failed: %s",
			    strerror(-r));
			return r;
		}
	}
	*errv = cub_err_val(CUB_E_BUSY,
	    "swap: no free copy after %d grace "
	    "periods",
	    tries);
	return -EBUSY;
}

/* Lock held: make copy k the set's active one; returns the old copy. */
static int
flip(struct cube *c, struct swapset *set, uint32_t k, uint64_t *seq,
    struct cub_val **errv)
{
	uint32_t zero = 0, old = set->active;

	if (bpf_map_update_elem(
		c->obj->maps[set->index].fd, &zero, &k, BPF_ANY))
		return ERR(CUB_E_KERNEL, "cube '%s': swap set '%s': flip: %s",
		    c->name, set->name, strerror(errno));
	set->active = k;
	*seq = grace_retire();
	set->retired[old] = *seq;
	return (int)old;
}

/* swap.begin {cube, set, clear} -> {txn, copy, maps}. */
static int
sw_begin(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	struct swapset *set;
	struct cube *c;
	bool clear = false;
	int fds[SWAP_MEMBERS_MAX];
	struct bmap bms[SWAP_MEMBERS_MAX];
	size_t vszs[SWAP_MEMBERS_MAX];
	uint32_t k, i, n = 0;
	uint64_t txn;
	int r;

	cub_val__as_bool(cub_val__get(p, "clear"), &clear);
	pthread_mutex_lock(&s->b->lock);
	if ((r = take_copy(s, p, &c, &set, &k, errv))) {
		pthread_mutex_unlock(&s->b->lock);
		return r;
	}
	pthread_mutex_lock(&grace.lock);
	txn = ++grace.txn;
	pthread_mutex_unlock(&grace.lock);
	set->filling = k;
	set->txn = txn;
	set_drop_shadows(set, k); /* a read's pending late updates: gone */
	*res = cub_val__map();
	cub_val__set(*res, "txn", cub_val__uint(txn));
	cub_val__set(*res, "copy", cub_val__uint(k));
	cub_val__set(*res, "copies", cub_val__uint(set->ncopies));
	cub_val__set(*res, "maps", copy_maps(c, set, k));
	/* Emptied without the lock, on the broker's own fds. */
	for (i = 0; clear && i < set->nmembers; i++) {
		bms[n] = c->obj->maps[set->copy[i][k]];
		vszs[n] = user_vsz(s->b, &bms[n]);
		if ((fds[n] = fcntl(bms[n].fd, F_DUPFD_CLOEXEC, 3)) >= 0)
			n++;
	}
	pthread_mutex_unlock(&s->b->lock);
	for (i = 0, r = 0; i < n; i++) {
		if (!r && (r = clear_map(fds[i], &bms[i], vszs[i])))
			*errv = cub_err_val(CUB_E_KERNEL,
			    "swap.begin: emptying map '%s' failed: %s",
			    bms[i].name, strerror(-r));
		close(fds[i]);
	}
	if (!r && clear && n != set->nmembers)
		*errv = cub_err_val(CUB_E_LIMIT, "swap.begin: out of fds");
	return *errv ? -EIO : 0;
}

static int
txn_of(struct swapset *set, const struct cub_val *p, struct cub_val **errv)
{
	uint64_t txn;

	if (cub_val__as_u64(cub_val__get(p, "txn"), &txn))
		return ERR(CUB_E_TYPE, "swap: 'txn' must be a transaction id");
	if (!set->txn || txn != set->txn || set->filling == NO_COPY)
		return ERR(CUB_E_BUSY,
		    "swap set '%s': transaction %llu is not open (a later "
		    "swap.begin, a reload or a broker restart ended it)",
		    set->name, (unsigned long long)txn);
	return 0;
}

/* swap.commit {cube, set, txn} -> {copy, retired}; swap.abort alike. */
static int
sw_end(struct service *s, const struct cub_val *p, bool commit,
    struct cub_val **res, struct cub_val **errv)
{
	struct swapset *set;
	struct cube *c;
	uint64_t seq;
	uint32_t k;
	int old = -1, r;

	pthread_mutex_lock(&s->b->lock);
	set = own_set(s, p, &c, errv);
	r = set ? txn_of(set, p, errv) : -ENOENT;
	if (!r && set->reading)
		r = ERR(CUB_E_BUSY, "swap set '%s': a swap.read is in progress",
		    set->name);
	if (!r) {
		k = set->filling;
		set->filling = NO_COPY;
		set->txn = 0;
		if (commit && (old = flip(c, set, k, &seq, errv)) < 0)
			r = old;
	}
	pthread_mutex_unlock(&s->b->lock);
	if (r)
		return r;
	*res = cub_val__map();
	if (commit) {
		cub_val__set(*res, "copy", cub_val__uint(k));
		cub_val__set(*res, "retired", cub_val__uint((uint64_t)old));
	}
	return 0;
}

/*
 * swap.read {cube, set, wait: true} -> {copy, maps}: the read before
 * issue 9, kept for bench/dynmon-swap (the baseline): flip to a free
 * copy, wait out the grace period of the one left, and hand that one
 * back (the SDK reads and zeroes it).  A copy a fast read left data in is
 * emptied first (with the lock: mixing the two on one set is the bench's
 * business only).
 */
static int
sw_read_grace(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	int fds[SWAP_MEMBERS_MAX];
	struct bmap bms[SWAP_MEMBERS_MAX];
	size_t vszs[SWAP_MEMBERS_MAX];
	struct bpfobj *o;
	struct swapset *set;
	struct cube *c;
	uint64_t seq;
	uint32_t k, i, n = 0;
	int old, r;

	pthread_mutex_lock(&s->b->lock);
	if ((r = take_copy(s, p, &c, &set, &k, errv))) {
		pthread_mutex_unlock(&s->b->lock);
		return r;
	}
	/* A dirty copy is emptied on dup'd fds without b->lock (its size is
	 * the worker's: review11-swapread-lockstall), the set marked
	 * reading so no other begin, commit or read takes it meanwhile. */
	if (set->dirty[k]) {
		for (i = 0; i < set->nmembers; i++) {
			bms[n] = c->obj->maps[set->copy[i][k]];
			vszs[n] = user_vsz(s->b, &bms[n]);
			if ((fds[n] = fcntl(bms[n].fd, F_DUPFD_CLOEXEC, 3)) >=
			    0)
				n++;
		}
		o = c->obj;
		set->reading = true;
		pthread_mutex_unlock(&s->b->lock);
		for (i = 0, r = 0; i < n; i++) {
			if (!r && (r = clear_map(fds[i], &bms[i], vszs[i])))
				*errv = cub_err_val(CUB_E_KERNEL,
				    "swap.read: emptying '%s': %s", bms[i].name,
				    strerror(-r));
			close(fds[i]);
		}
		if (!r && n != set->nmembers)
			r = ERR(CUB_E_LIMIT, "swap.read: out of fds");
		pthread_mutex_lock(&s->b->lock);
		/* Deleted or reloaded meanwhile: a new object's set starts
		 * afresh; nothing of this read applies to it. */
		c = cube_find(s->b, cub_val__get_str(p, "cube"));
		if (!c || c->svc != s || c->removed || c->obj != o) {
			pthread_mutex_unlock(&s->b->lock);
			if (r)
				return r;
			return ERR(CUB_E_BUSY,
			    "swap.read: the cube was deleted or reloaded "
			    "during the read");
		}
		set->reading = false;
		if (r) {
			pthread_mutex_unlock(&s->b->lock);
			return r;
		}
	}
	set->dirty[k] = false;
	set_drop_shadows(set, k);
	if ((old = flip(c, set, k, &seq, errv)) < 0) {
		pthread_mutex_unlock(&s->b->lock);
		return old;
	}
	pthread_mutex_unlock(&s->b->lock);
	if ((r = grace_wait(seq)))
		return ERR(CUB_E_KERNEL,
		    "swap.read: waiting for a grace period failed: %s",
		    strerror(-r));
	pthread_mutex_lock(&s->b->lock);
	/* The cube may have been deleted or reloaded meanwhile. */
	set = own_set(s, p, &c, errv);
	if (set && (uint32_t)old < set->ncopies) {
		set_drop_shadows(set, (uint32_t)old);
		set->dirty[old] = false; /* the SDK zeroes it */
		*res = cub_val__map();
		cub_val__set(*res, "copy", cub_val__uint((uint64_t)old));
		cub_val__set(*res, "maps", copy_maps(c, set, (uint32_t)old));
	}
	pthread_mutex_unlock(&s->b->lock);
	return set ? 0 : -ENOENT;
}

/*
 * The fast, exact swap-on-read (docs/architecture.md, "Reader side").
 * Read k of a set with active copy A:
 *   1. the copy T to flip to is the one retired longest ago (with 2
 *      copies, the one read k-1 retired); its grace period, begun at
 *      read k-1, has normally ended: wait only for what is left of it.
 *      No program writes T any more.  T now holds what read k-1 returned
 *      of it (its shadow, kept here) plus the updates of programs that
 *      took T before read k-1's flip and wrote after that read: the late
 *      delta, T - shadow, entry by entry.  T is read and emptied;
 *   2. the flip (one 4-byte store) makes T active;
 *   3. A is read at once, without waiting: what programs still running
 *      on A write after this read is found at read k+1, the same way.
 *      A's values become its shadow;
 *   4. the answer is A's values plus T's late delta (keys of A or not).
 * Every update lands in a copy that is read after it, and is counted
 * once: in the read right after its copy's flip, or in the late delta of
 * the next, whose shadow is exactly what was returned.  Values are added
 * and subtracted in unsigned lanes of 8 bytes (then 4, 2, 1 for a tail),
 * modulo their width: exact for counters, whatever the reads saw.
 * Other retired copies (3 or more copies) whose grace ended have their
 * late delta folded in too, without being emptied (they are when their
 * turn comes).  All of it in one call, on dup'd fds, without b->lock.
 */


/* One member's copy as the read sees it, on a dup'd fd (-1: none). */
struct rmap {
	struct mb_map m;
	uint32_t max;
	bool array;
};

struct rjob {
	struct bpfobj *o;
	uint32_t nmembers, tcopy, acopy, nlate;
	int index_fd;
	struct rmap t[SWAP_MEMBERS_MAX], a[SWAP_MEMBERS_MAX];
	struct rmap late[SWAP_COPIES_MAX][SWAP_MEMBERS_MAX];
	struct shadow *tsh[SWAP_MEMBERS_MAX];
	struct shadow *lsh[SWAP_COPIES_MAX][SWAP_MEMBERS_MAX];
	uint32_t latecopy[SWAP_COPIES_MAX];
	struct shadow *ash[SWAP_MEMBERS_MAX]; /* A's new shadows */
	struct ents *tpend[SWAP_MEMBERS_MAX]; /* T's prepared late delta */
	bool tready;                          /* T was folded and emptied */
	struct cub_val *maps;                 /* copy_maps() of A */
};

static bool
map_is_array(uint32_t type)
{
	return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static int
ents_init(struct ents *e, uint32_t cap, uint32_t ks, size_t vsz)
{
	e->n = 0;
	e->cap = cap;
	e->ks = ks;
	e->vsz = vsz;
	e->keys = malloc((size_t)cap * ks + 1);
	e->vals = malloc((size_t)cap * vsz + 1);
	return e->keys && e->vals ? 0 : -ENOMEM;
}

static void
ents_fini(struct ents *e)
{
	free(e->keys);
	free(e->vals);
	e->keys = e->vals = NULL;
}

/* Every entry of r's map into e (emptied first); del: removed as read. */
static int
read_all(const struct rmap *r, bool del, struct ents *e)
{
	uint8_t cursor[64];
	uint32_t cnt;
	bool kernel, first = true;
	int rc = 0;

	e->n = 0;
	if (mapbatch_cursor_size(&r->m) > sizeof(cursor))
		return -EINVAL;
	while (e->n < e->cap) {
		cnt = e->cap - e->n;
		rc = mapbatch_lookup(&r->m, del, first || del ? NULL : cursor,
		    cursor, e->keys + (size_t)e->n * e->ks,
		    e->vals + (size_t)e->n * e->vsz, &cnt, 0, 0, &kernel);
		e->n += cnt;
		first = false;
		if (rc)
			break;
	}
	return rc == -ENOENT ? 0 : rc;
}

/* d = a + b, or a - b, in unsigned lanes of 8 bytes, then 4, 2, 1. */
static void
lanes(uint8_t *d, const uint8_t *a, const uint8_t *b, size_t n, bool sub)
{
	size_t o = 0;

	for (; o + 8 <= n; o += 8) {
		uint64_t x, y;

		memcpy(&x, a + o, 8);
		memcpy(&y, b + o, 8);
		x = sub ? x - y : x + y;
		memcpy(d + o, &x, 8);
	}
	for (; o + 4 <= n; o += 4) {
		uint32_t x, y;

		memcpy(&x, a + o, 4);
		memcpy(&y, b + o, 4);
		x = sub ? x - y : x + y;
		memcpy(d + o, &x, 4);
	}
	for (; o < n; o++)
		d[o] = (uint8_t)(sub ? a[o] - b[o] : a[o] + b[o]);
}

static int
rec_cmp(const void *x, const void *y, void *ks)
{
	return memcmp(x, y, *(const uint32_t *)ks);
}

/* A shadow of e, in e's order (index order for arrays); unsorted. */
static struct shadow *
shadow_of(const struct ents *e, bool array)
{
	size_t rs = e->ks + e->vsz, i;
	struct shadow *sh = malloc(sizeof(*sh) + (size_t)e->n * rs + 1);

	if (!sh)
		return NULL;
	sh->n = e->n;
	sh->ks = e->ks;
	sh->vsz = e->vsz;
	for (i = 0; i < e->n; i++) {
		memcpy(sh->rec + i * rs, e->keys + i * e->ks, e->ks);
		memcpy(sh->rec + i * rs + e->ks, e->vals + i * e->vsz, e->vsz);
	}
	sh->sorted = array;
	return sh;
}

/* Sorted by key for rec_search() (hashes; arrays are in index order). */
static void
shadow_sort(struct shadow *sh)
{
	if (sh->sorted)
		return;
	qsort_r(sh->rec, sh->n, sh->ks + sh->vsz, rec_cmp, &sh->ks);
	sh->sorted = true;
}

/* The record whose key is key among n sorted records of rs bytes. */
static uint8_t *
rec_search(const void *key, uint8_t *rec, uint32_t n, size_t rs, uint32_t ks)
{
	uint32_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(key, rec + mid * rs, ks);
		if (!c)
			return rec + mid * rs;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The record of key in sh, or NULL. */
static uint8_t *
shadow_find(struct shadow *sh, const void *key, bool array)
{
	size_t rs = sh->ks + sh->vsz;
	uint32_t idx;

	if (array) {
		memcpy(&idx, key, sizeof(idx));
		return idx < sh->n && !memcmp(sh->rec + idx * rs, key, sh->ks)
			   ? sh->rec + idx * rs
			   : NULL;
	}
	return rec_search(key, sh->rec, sh->n, rs, sh->ks);
}

/*
 * e (a retired copy as it is now) minus sh (what was returned of it), in
 * place: only the entries that changed are kept (a key not in sh counts
 * whole: a late writer created it).  Keys sh has and e lost (a late
 * delete) are not counters: ignored.
 */
static void
late_delta(struct ents *e, struct shadow *sh, bool array)
{
	uint32_t i, kept = 0;
	uint8_t *rec, *k, *v;
	bool nz;
	size_t j;

	if (sh)
		shadow_sort(sh);
	for (i = 0; i < e->n; i++) {
		k = e->keys + (size_t)i * e->ks;
		v = e->vals + (size_t)i * e->vsz;
		rec = sh ? shadow_find(sh, k, array) : NULL;
		if (rec)
			lanes(v, v, rec + e->ks, e->vsz, true);
		for (j = 0, nz = false; j < e->vsz && !nz; j++)
			nz = v[j] != 0;
		if (!nz)
			continue;
		if (kept != i) {
			memmove(e->keys + (size_t)kept * e->ks, k, e->ks);
			memmove(e->vals + (size_t)kept * e->vsz, v, e->vsz);
		}
		kept++;
	}
	e->n = kept;
}

/* A late delta's entry, for merge(): where it is, whether it was added. */
struct dref {
	const uint8_t *key, *val;
	uint32_t order; /* its place among the deltas, to keep their order */
	bool used;
};

static int
dref_cmp(const void *x, const void *y, void *ks)
{
	const struct dref *a = x, *b = y;
	int c = memcmp(a->key, b->key, *(const uint32_t *)ks);

	return c ? c : (a->order > b->order) - (a->order < b->order);
}

static int
dref_order(const void *x, const void *y)
{
	const struct dref *a = x, *b = y;

	return (a->order > b->order) - (a->order < b->order);
}

/*
 * The answer for one member: a's entries (A as read after the flip) plus
 * the late deltas d[0..nd-1]; keys only a delta has come after a's, in
 * the deltas' order.  Without late deltas (the steady state) a plain
 * copy; with them, a's keys are searched among the deltas' (sorted:
 * they are few), not the other way round, so that a's entries need no
 * sort.  0 with *out (keys then values) or -ENOMEM.
 */
static int
merge(const struct ents *a, struct ents *d, uint32_t nd, bool array,
    struct ents *out)
{
	uint32_t ks = a->ks, i, j, nx = 0, lo, hi, mid, idx;
	size_t vsz = a->vsz;
	struct dref *x, probe;
	uint8_t *hit;
	int r, c;

	for (j = 0; j < nd; j++)
		nx += d[j].n;
	if ((r = ents_init(out, a->n + nx, ks, vsz)))
		return r;
	memcpy(out->keys, a->keys, (size_t)a->n * ks);
	memcpy(out->vals, a->vals, (size_t)a->n * vsz);
	out->n = a->n;
	if (!nx)
		return 0;
	x = malloc((size_t)nx * sizeof(*x));
	if (!x) {
		ents_fini(out);
		return -ENOMEM;
	}
	for (j = 0, nx = 0; j < nd; j++)
		for (i = 0; i < d[j].n; i++, nx++)
			x[nx] = (struct dref){d[j].keys + (size_t)i * ks,
			    d[j].vals + (size_t)i * vsz, nx, false};
	if (array) {
		/* a holds every index in order: an index is a position. */
		for (i = 0; i < nx; i++) {
			memcpy(&idx, x[i].key, sizeof(idx));
			if (idx < out->n &&
			    !memcmp(
				out->keys + (size_t)idx * ks, x[i].key, ks)) {
				lanes(out->vals + (size_t)idx * vsz,
				    out->vals + (size_t)idx * vsz, x[i].val,
				    vsz, false);
				x[i].used = true;
			}
		}
	} else {
		qsort_r(x, nx, sizeof(*x), dref_cmp, &ks);
		for (i = 0; i < a->n; i++) {
			probe.key = out->keys + (size_t)i * ks;
			probe.order = 0;
			/* The first delta entry with this key. */
			for (lo = 0, hi = nx; lo < hi;) {
				mid = lo + (hi - lo) / 2;
				c = memcmp(x[mid].key, probe.key, ks);
				if (c < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			for (; lo < nx && !memcmp(x[lo].key, probe.key, ks);
			     lo++) {
				lanes(out->vals + (size_t)i * vsz,
				    out->vals + (size_t)i * vsz, x[lo].val, vsz,
				    false);
				x[lo].used = true;
			}
		}
		qsort(x, nx, sizeof(*x), dref_order);
	}
	/* Keys only late writers made (found by a scan: rare, and only over
	 * such keys). */
	for (i = 0; i < nx; i++) {
		if (x[i].used)
			continue;
		for (hit = NULL, j = a->n; j < out->n; j++)
			if (!memcmp(out->keys + (size_t)j * ks, x[i].key, ks)) {
				hit = out->vals + (size_t)j * vsz;
				break;
			}
		if (hit) {
			lanes(hit, hit, x[i].val, vsz, false);
			continue;
		}
		memcpy(out->keys + (size_t)out->n * ks, x[i].key, ks);
		memcpy(out->vals + (size_t)out->n * vsz, x[i].val, vsz);
		out->n++;
	}
	free(x);
	return 0;
}

static void
rmap_close(struct rmap *m)
{
	if (m->m.fd >= 0)
		close(m->m.fd);
	m->m.fd = -1;
}

/* Lock held: r for member i's copy k, on a dup'd fd (-errno). */
static int
rmap_open(const struct cube *c, const struct broker *b,
    const struct swapset *set, uint32_t i, uint32_t k, struct rmap *r)
{
	const struct bmap *bm = &c->obj->maps[set->copy[i][k]];

	r->m.type = bm->type;
	r->m.key_size = bm->key_size;
	r->m.vsz = user_vsz(b, bm);
	r->max = bm->max_entries;
	r->array = map_is_array(bm->type);
	r->m.fd = fcntl(bm->fd, F_DUPFD_CLOEXEC, 3);
	return r->m.fd < 0 ? -errno : 0;
}

static void
rjob_fini(struct rjob *j)
{
	uint32_t i, l;

	for (i = 0; i < SWAP_MEMBERS_MAX; i++) {
		rmap_close(&j->t[i]);
		rmap_close(&j->a[i]);
		free(j->tsh[i]);
		free(j->ash[i]);
		ents_free(j->tpend[i]);
		for (l = 0; l < SWAP_COPIES_MAX; l++) {
			rmap_close(&j->late[l][i]);
			free(j->lsh[l][i]);
		}
	}
	if (j->index_fd >= 0)
		close(j->index_fd);
	cub_val__free(j->maps);
}

/*
 * Lock held: the job for a read of set flipping to copy t; the shadows
 * it needs move into it.  A read must fit one answer: refused before
 * anything changes if the set's maps cannot.
 */
static int
rjob_prepare(const struct cube *c, const struct broker *b, struct swapset *set,
    uint32_t t, struct rjob *j, struct cub_val **errv)
{
	uint64_t done = grace_done(), bytes = 0;
	uint32_t i, k;
	int r = 0;

	memset(j, 0, sizeof(*j));
	j->index_fd = -1;
	for (i = 0; i < SWAP_MEMBERS_MAX; i++) {
		j->t[i].m.fd = j->a[i].m.fd = -1;
		for (k = 0; k < SWAP_COPIES_MAX; k++)
			j->late[k][i].m.fd = -1;
	}
	j->o = c->obj;
	j->nmembers = set->nmembers;
	j->tcopy = t;
	j->acopy = set->active;
	/* Both copies a read touches (alike since set_get(), checked again). */
	for (i = 0; i < set->nmembers; i++) {
		const struct bmap *bm = &c->obj->maps[set->copy[i][t]];
		const struct bmap *am =
		    &c->obj->maps[set->copy[i][set->active]];
		uint64_t tb = (uint64_t)bm->max_entries *
			      (bm->key_size + user_vsz(b, bm));
		uint64_t ab = (uint64_t)am->max_entries *
			      (am->key_size + user_vsz(b, am));

		bytes += 2 * (tb > ab ? tb : ab);
	}
	if (bytes > CUB_MSG_MAX / 2)
		return ERR(CUB_E_LIMIT,
		    "cube '%s': swap set '%s': a read of its maps may take "
		    "%llu bytes, over the %u of one answer (fewer entries)",
		    c->name, set->name, (unsigned long long)bytes,
		    CUB_MSG_MAX / 2);
	j->index_fd = fcntl(c->obj->maps[set->index].fd, F_DUPFD_CLOEXEC, 3);
	if (j->index_fd < 0)
		r = -errno;
	j->tready = set->prep[t] == PREP_READY;
	for (i = 0; !r && i < set->nmembers; i++) {
		if ((!j->tready && (r = rmap_open(c, b, set, i, t, &j->t[i]))) ||
		    (r = rmap_open(c, b, set, i, j->acopy, &j->a[i])))
			break;
		j->tsh[i] = set->shadow[i][t];
	}
	/* Other retired copies with late updates pending, grace ended. */
	for (k = 0; !r && k < set->ncopies; k++) {
		if (k == t || k == j->acopy || set->retired[k] > done ||
		    !set->shadow[0][k])
			continue;
		for (i = 0; !r && i < set->nmembers; i++) {
			r = rmap_open(c, b, set, i, k, &j->late[j->nlate][i]);
			j->lsh[j->nlate][i] = set->shadow[i][k];
		}
		j->latecopy[j->nlate++] = k;
	}
	if (r) {
		/* The shadows stay the set's. */
		memset(j->tsh, 0, sizeof(j->tsh));
		memset(j->lsh, 0, sizeof(j->lsh));
		return ERR(CUB_E_LIMIT, "swap.read: out of fds: %s",
		    strerror(-r));
	}
	for (i = 0; i < set->nmembers; i++) {
		set->shadow[i][t] = NULL;
		j->tpend[i] = set->pending[i][t];
		set->pending[i][t] = NULL;
		for (k = 0; k < j->nlate; k++)
			set->shadow[i][j->latecopy[k]] = NULL;
	}
	set->prep[t] = PREP_NONE;
	j->maps = copy_maps(c, set, j->acopy);
	return 0;
}

/*
 * Without the lock: steps 1 to 4 above.  *seq: the flip's grace
 * sequence (0: no flip happened).  Fills j->ash and the answer's maps.
 */
static int
rjob_run(struct rjob *j, uint64_t *seq, struct cub_val **errv)
{
	struct ents d[SWAP_MEMBERS_MAX][SWAP_COPIES_MAX], a, out;
	uint32_t nd[SWAP_MEMBERS_MAX] = {0}, i, l, zero = 0, late;
	int r = 0;

	memset(d, 0, sizeof(d));
	memset(&a, 0, sizeof(a));
	*seq = 0;
	/* 1. T's late delta, T emptied; the other copies' late deltas. */
	for (i = 0; !r && i < j->nmembers; i++) {
		struct rmap *t = &j->t[i];
		struct ents *e = &d[i][nd[i]++];

		if (j->tready) { /* folded after the last read: its delta */
			if (j->tpend[i]) {
				*e = *j->tpend[i];
				free(j->tpend[i]);
				j->tpend[i] = NULL;
			}
			goto others;
		}
		if ((r = ents_init(e, t->max, t->m.key_size, t->m.vsz)) ||
		    (r = read_all(t, !t->array, e)))
			break;
		if (t->array) {
			struct bmap bm = {.type = t->m.type,
			    .key_size = t->m.key_size,
			    .max_entries = t->max};

			if ((r = clear_map(t->m.fd, &bm, t->m.vsz)))
				break;
		}
		if (j->tsh[i])
			late_delta(e, j->tsh[i], t->array);
		else /* contents unknown (a fresh set): not reported */
			e->n = 0;
	others:
		for (l = 0; !r && l < j->nlate; l++) {
			struct rmap *m = &j->late[l][i];

			e = &d[i][nd[i]++];
			if (!(r = ents_init(e, m->max, m->m.key_size,
				  m->m.vsz)) &&
			    !(r = read_all(m, false, e)))
				late_delta(e, j->lsh[l][i], m->array);
		}
	}
	if (r) {
		*errv = cub_err_val(CUB_E_KERNEL,
		    "swap.read: reading the retired copy %u: %s", j->tcopy,
		    strerror(-r));
		goto out;
	}
	/* 2. The flip. */
	if (bpf_map_update_elem(j->index_fd, &zero, &j->tcopy, BPF_ANY)) {
		r = -errno;
		*errv = cub_err_val(
		    CUB_E_KERNEL, "swap.read: flip: %s", strerror(-r));
		goto out;
	}
	*seq = grace_retire();
	/* 3, 4. A at once: its shadow, and the answer. */
	for (i = 0; !r && i < j->nmembers; i++) {
		struct rmap *m = &j->a[i];
		struct cub_val *item = j->maps->arr.items[i];

		ents_fini(&a);
		if ((r = ents_init(&a, m->max, m->m.key_size, m->m.vsz)) ||
		    (r = read_all(m, false, &a)))
			break;
		if (!(j->ash[i] = shadow_of(&a, m->array)) ||
		    merge(&a, d[i], nd[i], m->array, &out)) {
			r = -ENOMEM;
			break;
		}
		for (l = 0, late = 0; l < nd[i]; l++)
			late += d[i][l].n;
		cub_val__set(item, "count", cub_val__uint(out.n));
		cub_val__set(item, "late", cub_val__uint(late));
		cub_val__set(item, "keys",
		    cub_val__bin(out.keys, (size_t)out.n * out.ks));
		cub_val__set(item, "values",
		    cub_val__bin(out.vals, (size_t)out.n * out.vsz));
		ents_fini(&out);
	}
	if (r)
		*errv = cub_err_val(CUB_E_KERNEL,
		    "swap.read: reading copy %u after the flip: %s", j->acopy,
		    strerror(-r));
out:
	ents_fini(&a);
	for (i = 0; i < SWAP_MEMBERS_MAX; i++)
		for (l = 0; l < SWAP_COPIES_MAX; l++)
			ents_fini(&d[i][l]);
	return r;
}

/*
 * The fold of the copy a read just retired, after the answer: wait for
 * its grace period, take its late delta (now minus the shadow the read
 * kept) and empty it, so that the next read finds it ready and does one
 * pass on its request's path, the read of the copy it leaves.  Folds are
 * queued to one thread of the broker's (fold_thread(), started by the
 * first), in the order of their flips, so of their grace periods: a
 * read's path pays a signal, not a thread's creation (50-60 us here).
 * The set is found again by name when a fold ends, and keeps nothing if
 * its id changed (a begin, a reload, a removal).
 */
struct prep {
	struct prep *next; /* in folds' queue */
	struct broker *b;
	char cube[CUB_NAME_MAX + 1], set[SWAP_SET_MAX + 1];
	struct bpfobj *o;
	uint32_t copy, nmembers;
	uint64_t id, seq;
	struct rmap m[SWAP_MEMBERS_MAX];
	struct shadow *sh[SWAP_MEMBERS_MAX];
};

static void
prep_free(struct prep *p)
{
	uint32_t i;

	for (i = 0; i < p->nmembers; i++) {
		rmap_close(&p->m[i]);
		free(p->sh[i]);
	}
	free(p);
}

/* b->lock held: p's set, if it is still the one p was made for. */
static struct swapset *
prep_set(const struct prep *p)
{
	struct cube *c = cube_find(p->b, p->cube);
	int i;

	if (!c || c->removed || c->obj != p->o || !p->o->swaps)
		return NULL;
	for (i = 0; i < p->o->swaps->n; i++)
		if (!strcmp(p->o->swaps->set[i].name, p->set))
			return p->o->swaps->set[i].prep_id[p->copy] == p->id
				   ? &p->o->swaps->set[i]
				   : NULL;
	return NULL;
}

static void
prep_run(struct prep *p)
{
	struct ents *d[SWAP_MEMBERS_MAX] = {0};
	struct swapset *set;
	uint32_t i;
	int r = grace_wait(p->seq);

	for (i = 0; !r && i < p->nmembers; i++) {
		struct rmap *m = &p->m[i];

		if (!(d[i] = calloc(1, sizeof(*d[i]))) ||
		    (r = ents_init(d[i], m->max, m->m.key_size, m->m.vsz)) ||
		    (r = read_all(m, !m->array, d[i])))
			break;
		if (m->array) {
			struct bmap bm = {.type = m->m.type,
			    .key_size = m->m.key_size,
			    .max_entries = m->max};

			if ((r = clear_map(m->m.fd, &bm, m->m.vsz)))
				break;
		}
		late_delta(d[i], p->sh[i], m->array);
	}
	if (r > 0 || (!r && i < p->nmembers))
		r = -ENOMEM;
	pthread_mutex_lock(&p->b->lock);
	if ((set = prep_set(p))) {
		set->prep[p->copy] = r ? PREP_NONE : PREP_READY;
		set->prep_id[p->copy] = 0;
		for (i = 0; i < p->nmembers; i++) {
			if (r) { /* the next read folds it itself */
				set->shadow[i][p->copy] = p->sh[i];
				p->sh[i] = NULL;
				continue;
			}
			set->pending[i][p->copy] = d[i];
			d[i] = NULL;
		}
		if (!r)
			set->dirty[p->copy] = false;
	}
	pthread_cond_broadcast(&prep_cond);
	pthread_mutex_unlock(&p->b->lock);
	if (r)
		log_warn("swap set '%s' of cube '%s': folding copy %u: %s",
		    p->set, p->cube, p->copy, strerror(-r));
	for (i = 0; i < p->nmembers; i++)
		ents_free(d[i]);
	prep_free(p);
}

/* The queue of folds, and its thread (detached, for the broker's life). */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct prep *head, *tail;
	bool up;
} folds = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, false};
static pthread_once_t folds_once = PTHREAD_ONCE_INIT;

static void *
fold_thread(void *arg)
{
	struct prep *p;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&folds.lock);
		while (!folds.head)
			pthread_cond_wait(&folds.cond, &folds.lock);
		p = folds.head;
		folds.head = p->next;
		if (!folds.head)
			folds.tail = NULL;
		pthread_mutex_unlock(&folds.lock);
		prep_run(p);
	}
	return NULL;
}

static void
fold_thread_start(void)
{
	pthread_attr_t attr;
	pthread_t t;

	folds.up =
	    !pthread_attr_init(&attr) &&
	    !pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) &&
	    !pthread_create(&t, &attr, fold_thread, NULL);
	pthread_attr_destroy(&attr);
}

/*
 * b->lock held: start the fold of copy j->acopy (retired at seq), taking
 * its fds and shadows from j; false if it could not start (then they
 * stay j's and the next read folds it inline).
 */
static bool
prep_start(struct service *s, struct swapset *set, struct rjob *j,
    const char *cube, uint64_t seq)
{
	struct prep *p;
	uint32_t i;

	pthread_once(&folds_once, fold_thread_start);
	if (!folds.up || !(p = calloc(1, sizeof(*p))))
		return false;
	p->b = s->b;
	snprintf(p->cube, sizeof(p->cube), "%s", cube);
	snprintf(p->set, sizeof(p->set), "%s", set->name);
	p->o = j->o;
	p->copy = j->acopy;
	p->nmembers = j->nmembers;
	p->seq = seq;
	pthread_mutex_lock(&grace.lock);
	p->id = ++grace.txn;
	pthread_mutex_unlock(&grace.lock);
	for (i = 0; i < j->nmembers; i++) {
		p->m[i] = j->a[i];
		p->sh[i] = j->ash[i];
	}
	set->prep[p->copy] = PREP_RUNNING;
	set->prep_id[p->copy] = p->id;
	for (i = 0; i < j->nmembers; i++) {
		j->a[i].m.fd = -1;
		j->ash[i] = NULL;
	}
	pthread_mutex_lock(&folds.lock);
	if (folds.tail)
		folds.tail->next = p;
	else
		folds.head = p;
	folds.tail = p;
	pthread_cond_signal(&folds.cond);
	pthread_mutex_unlock(&folds.lock);
	return true;
}

/* swap.read {cube, set[, wait]} -> {copy, retired, maps (with entries)}. */
static int
sw_read(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	struct swapset *set;
	struct cube *c;
	struct rjob j;
	bool wait = false;
	uint64_t seq;
	uint32_t t, i, l;
	int r;

	cub_val__as_bool(cub_val__get(p, "wait"), &wait);
	if (wait)
		return sw_read_grace(s, p, res, errv);
	pthread_mutex_lock(&s->b->lock);
	if ((r = take_copy(s, p, &c, &set, &t, errv)) ||
	    (r = rjob_prepare(c, s->b, set, t, &j, errv))) {
		pthread_mutex_unlock(&s->b->lock);
		return r;
	}
	set->reading = true;
	pthread_mutex_unlock(&s->b->lock);
	r = rjob_run(&j, &seq, errv);
	pthread_mutex_lock(&s->b->lock);
	/* The cube may have been deleted or reloaded meanwhile: then the
	 * new object's set starts afresh from its index map. */
	set = NULL;
	c = cube_find(s->b, cub_val__get_str(p, "cube"));
	if (c && c->svc == s && !c->removed && c->obj == j.o && j.o->swaps) {
		for (i = 0; i < (uint32_t)j.o->swaps->n; i++)
			if (!strcmp(j.o->swaps->set[i].name,
				cub_val__get_str(p, "set")))
				set = &j.o->swaps->set[i];
	}
	if (set) {
		set->reading = false;
		if (seq) {
			set->active = j.tcopy;
			set->retired[j.acopy] = seq;
			set->dirty[j.acopy] = true;
			set->dirty[j.tcopy] = false;
			if (r || !prep_start(s, set, &j,
					 cub_val__get_str(p, "cube"), seq))
				for (i = 0; i < j.nmembers; i++) {
					set->shadow[i][j.acopy] = j.ash[i];
					j.ash[i] = NULL;
				}
		} else {
			/* Nothing flipped: T keeps its shadow (its late
			 * updates, if T was emptied part way, are lost). */
			for (i = 0; i < j.nmembers; i++) {
				set->shadow[i][j.tcopy] = j.tsh[i];
				j.tsh[i] = NULL;
			}
		}
		for (l = 0; l < j.nlate; l++) /* folded, if r is 0 */
			for (i = 0; r && i < j.nmembers; i++) {
				set->shadow[i][j.latecopy[l]] = j.lsh[l][i];
				j.lsh[l][i] = NULL;
			}
	}
	pthread_mutex_unlock(&s->b->lock);
	if (!r && set) {
		*res = cub_val__map();
		cub_val__set(*res, "copy", cub_val__uint(j.acopy));
		cub_val__set(*res, "active", cub_val__uint(j.tcopy));
		cub_val__set(*res, "maps", j.maps);
		j.maps = NULL;
	} else if (!r) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "swap.read: the cube was removed or reloaded meanwhile");
		r = -ENOENT;
	}
	rjob_fini(&j);
	return r;
}

int
mapswap_call(struct service *s, const char *method, const struct cub_val *p,
    struct cub_val **res, struct cub_val **errv)
{
	if (!strcmp(method, CUB_M_SWAP_BEGIN))
		return sw_begin(s, p, res, errv);
	if (!strcmp(method, CUB_M_SWAP_COMMIT))
		return sw_end(s, p, true, res, errv);
	if (!strcmp(method, CUB_M_SWAP_ABORT))
		return sw_end(s, p, false, res, errv);
	if (!strcmp(method, CUB_M_SWAP_READ))
		return sw_read(s, p, res, errv);
	*errv = cub_err_val(CUB_E_NOMETHOD, "no method '%s'", method);
	return -EINVAL;
}
