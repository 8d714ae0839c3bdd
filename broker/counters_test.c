// SPDX-License-Identifier: BSD-2-Clause
/*
 * counters.c: the per-CPU sum over the kernel's layout, the checks made
 * at hello, and a read of a real per-CPU map (as root) into an overlay.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>

#include "broker.h"
#include "check_run.h"
#include "counters.h"
#include "cubicle/schema.h"

/* bpfobj.c's, which this test does not link (rule 29): the same code. */
bool
bpf_map_type_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

struct bmap *
bpfobj_map(struct bpfobj *o, const char *name)
{
	int i;

	for (i = 0; o && i < o->nmaps; i++)
		if (!strcmp(o->maps[i].name, name))
			return &o->maps[i];
	return NULL;
}

/* Values of ncpus CPUs, each value_size bytes rounded up to 8. */
static void
put(uint8_t *buf, uint32_t value_size, uint32_t cpu, uint32_t off, uint64_t v,
    uint32_t width)
{
	uint8_t *p = buf + (size_t)cpu * ((value_size + 7) / 8 * 8) + off;
	uint32_t v32 = (uint32_t)v;

	if (width == 4)
		memcpy(p, &v32, 4);
	else
		memcpy(p, &v, 8);
}

START_TEST(percpu_sum)
{
	uint8_t buf[64 * 16];
	uint32_t cpu;

	/* 12-byte values: 16 bytes a CPU; a u32 at 8 in each. */
	memset(buf, 0xee, sizeof(buf));
	for (cpu = 0; cpu < 64; cpu++)
		put(buf, 12, cpu, 8, cpu + 1, 4);
	ck_assert_uint_eq(counters_sum(buf, 12, 64, 8, 4), 64 * 65 / 2);
	/* 4-byte values: 8 a CPU; the padding (0xee) is never read. */
	memset(buf, 0xee, sizeof(buf));
	for (cpu = 0; cpu < 3; cpu++)
		put(buf, 4, cpu, 0, 1000u + cpu, 4);
	ck_assert_uint_eq(counters_sum(buf, 4, 3, 0, 4), 3003);
	/* 48-byte values (simpleforwarder's sf_stats): u64 at 40. */
	memset(buf, 0, sizeof(buf));
	for (cpu = 0; cpu < 2; cpu++)
		put(buf, 48, cpu, 40, (1ull << 40) + cpu, 8);
	ck_assert_uint_eq(counters_sum(buf, 48, 2, 40, 8), (2ull << 40) + 1);
	/* Not per-CPU: one value, no rounding. */
	put(buf, 12, 0, 4, 77, 8);
	ck_assert_uint_eq(counters_sum(buf, 12, 1, 4, 8), 77);
	/* u64 wrap is the kernel's: a sum past 2^64 wraps as it would. */
	memset(buf, 0, sizeof(buf));
	put(buf, 8, 0, 0, UINT64_MAX, 8);
	put(buf, 8, 1, 0, 2, 8);
	ck_assert_uint_eq(counters_sum(buf, 8, 2, 0, 8), 1);
}
END_TEST

/* One field carrying c, in a cube-level list "ports" or at the root. */
static int
parse_one(const struct cub_counter *c, enum cub_ftype type, uint32_t flags,
    bool in_ports, char *err, size_t errlen)
{
	struct cub_field kids[] = {
	    {.name = "f", .type = type, .flags = flags, .counter = c},
	    {.name = "k", .type = CUB_T_STR},
	    {0},
	};
	struct cub_field root[] = {
	    {.name = "ports", .type = CUB_T_LIST, .children = kids},
	    {0},
	};
	struct cub_val *w = cub_schema__to_val(in_ports ? root : kids);
	struct ctr_table *t = NULL;
	int r;

	ck_assert_ptr_nonnull(w);
	r = counters_parse(w, &t, err, errlen);
	if (!r)
		ck_assert_uint_eq(counters_count(t), 1);
	counters_free(t);
	cub_val__free(w);
	return r;
}

static void
refused(const struct cub_counter *c, enum cub_ftype type, bool in_ports,
    const char *want)
{
	char err[512] = "";

	ck_assert_int_eq(
	    parse_one(c, type, CUB_F_RO, in_ports, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, want), "'%s' lacks '%s'", err, want);
}

START_TEST(hello_checks)
{
	char err[512];

	ck_assert_int_eq(
	    parse_one(&(struct cub_counter){.map = "st", .key_field = "index"},
		CUB_T_U64, CUB_F_RO, true, err, sizeof(err)),
	    0);
	ck_assert_int_eq(parse_one(&(struct cub_counter){.map = "St_2",
				       .key = 1ull << 40,
				       .key_size = 8,
				       .width = 4,
				       .offset = 12},
			     CUB_T_U32, CUB_F_RO, false, err, sizeof(err)),
	    0);
	/* Not ro, or not an integer. */
	ck_assert_int_eq(parse_one(&(struct cub_counter){.map = "st"},
			     CUB_T_U64, 0, false, err, sizeof(err)),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "counter 'f': a counter must be a "
					  "ro u32 or u64 field"));
	refused(&(struct cub_counter){.map = "st"}, CUB_T_STR, false,
	    "not a ro string field");
	/* Names: paths, dots, too long, the broker's. */
	refused(&(struct cub_counter){.map = "../sf1/sf_stats"}, CUB_T_U64,
	    false, "map '../sf1/sf_stats' is not a map name");
	refused(&(struct cub_counter){.map = "x.rodata"}, CUB_T_U64, false,
	    "is not a map name");
	refused(&(struct cub_counter){.map = "a23456789012345x"}, CUB_T_U64,
	    false, "is not a map name");
	refused(&(struct cub_counter){.map = ""}, CUB_T_U64, false,
	    "is not a map name");
	refused(&(struct cub_counter){.map = "cub_ports"}, CUB_T_U64, true,
	    "counter 'ports.f': map 'cub_ports' belongs to the broker");
	/* Sizes. */
	refused(&(struct cub_counter){.map = "st", .width = 2}, CUB_T_U64,
	    false, "width 2");
	refused(&(struct cub_counter){.map = "st", .key_size = 2}, CUB_T_U64,
	    false, "key_size 2");
	refused(&(struct cub_counter){.map = "st"}, CUB_T_U32, false,
	    "width 8 is wider than the field's u32");
	refused(&(struct cub_counter){.map = "st", .offset = 4}, CUB_T_U64,
	    false, "offset 4 is not a multiple of the width 8");
	refused(&(struct cub_counter){.map = "st", .offset = 1u << 20},
	    CUB_T_U64, false, "offset 1048576");
	refused(&(struct cub_counter){.map = "st", .key = 1ull << 32},
	    CUB_T_U64, false, "does not fit key_size 4");
	/* Key fields. */
	refused(&(struct cub_counter){.map = "st", .key_field = "index"},
	    CUB_T_U64, false, "outside an entry of a cube-level list");
	refused(&(struct cub_counter){.map = "st", .key_field = "nope"},
	    CUB_T_U64, true, "key_field 'nope' is not a field of the ports");
	refused(&(struct cub_counter){.map = "st", .key_field = "k"}, CUB_T_U64,
	    true, "key_field 'k' is a string field");
	refused(&(struct cub_counter){.map = "st", .key_field = "name"},
	    CUB_T_U64, true, "key_field 'name' is a string field");
	refused(
	    &(struct cub_counter){.map = "st", .key_field = "index", .key = 3},
	    CUB_T_U64, true, "both key and key_field");
}
END_TEST

START_TEST(depth_and_ro_parents)
{
	static const struct cub_counter c = {.map = "st"};
	static const struct cub_field deep[] = {
	    {.name = "f", .type = CUB_T_U64, .flags = CUB_F_RO, .counter = &c},
	    {0}};
	static const struct cub_field mid[] = {
	    {.name = "inner", .type = CUB_T_CONTAINER, .children = deep}, {0}};
	static const struct cub_field three[] = {
	    {.name = "outer", .type = CUB_T_CONTAINER, .children = mid}, {0}};
	static const struct cub_field key[] = {
	    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY},
	    {.name = "f", .type = CUB_T_U64, .flags = CUB_F_RO, .counter = &c},
	    {0}};
	static const struct cub_field rolist[] = {{.name = "stats",
						      .type = CUB_T_LIST,
						      .flags = CUB_F_RO,
						      .children = key},
	    {0}};
	static const struct cub_field plain[] = {
	    {.name = "x", .type = CUB_T_U64, .flags = CUB_F_RO},
	    {.name = "f", .type = CUB_T_U64, .flags = CUB_F_RO, .counter = &c},
	    {0}};
	struct ctr_table *t = NULL;
	struct cub_val *w;
	char err[512];

	w = cub_schema__to_val(three);
	ck_assert_int_eq(counters_parse(w, &t, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "counter 'outer.inner.f': "
					  "counters sit on cube-level"));
	cub_val__free(w);
	w = cub_schema__to_val(rolist);
	ck_assert_int_eq(counters_parse(w, &t, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "inside a ro list"));
	cub_val__free(w);
	/* A ro field without a binding: the worker still shows it. */
	w = cub_schema__to_val(plain);
	ck_assert_int_eq(counters_parse(w, &t, err, sizeof(err)), 0);
	ck_assert(counters_worker_show(t));
	t = counters_free(t);
	cub_val__free(w);
	w = cub_schema__to_val(plain + 1);
	ck_assert_int_eq(counters_parse(w, &t, err, sizeof(err)), 0);
	ck_assert(!counters_worker_show(t));
	t = counters_free(t);
	cub_val__free(w);
}
END_TEST

/* A real PERCPU_ARRAY of 12-byte values, read into a ports overlay. */
START_TEST(percpu_map_overlay)
{
	static const struct cub_counter a = {
	    .map = "st", .key_field = "index", .offset = 0, .width = 8};
	static const struct cub_counter bb = {
	    .map = "st", .key_field = "index", .offset = 8, .width = 4};
	static const struct cub_field kids[] = {
	    {.name = "a", .type = CUB_T_U64, .flags = CUB_F_RO, .counter = &a},
	    {.name = "b", .type = CUB_T_U32, .flags = CUB_F_RO, .counter = &bb},
	    {0}};
	static const struct cub_field root[] = {
	    {.name = "ports", .type = CUB_T_LIST, .children = kids}, {0}};
	struct broker b = {0};
	struct service s = {0};
	struct cube c = {0};
	struct bpfobj o = {0};
	struct cub_val *w, *scope, *ports, *e, *ov;
	const struct cub_val *oe;
	uint32_t key, cpu, ncpus;
	uint64_t v;
	uint8_t *buf;
	char err[512];
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "st", 4, 12, 4, NULL);
	if (fd < 0 && (errno == EPERM || geteuid())) {
		/* Not root: the rest needs the kernel. */
		return;
	}
	ck_assert_int_ge(fd, 0);
	b.ncpus = libbpf_num_possible_cpus();
	ck_assert_int_gt(b.ncpus, 0);
	ncpus = (uint32_t)b.ncpus;
	pthread_mutex_init(&b.lock, NULL);
	buf = calloc(ncpus, 16);
	ck_assert_ptr_nonnull(buf);
	memset(buf, 0xee, (size_t)ncpus * 16);
	for (cpu = 0; cpu < ncpus; cpu++) {
		put(buf, 12, cpu, 0, 100 + cpu, 8);
		put(buf, 12, cpu, 8, 7, 4);
	}
	key = 2;
	ck_assert_int_eq(bpf_map_update_elem(fd, &key, buf, 0), 0);

	w = cub_schema__to_val(root);
	ck_assert_int_eq(counters_parse(w, &s.counters, err, sizeof(err)), 0);
	cub_val__free(w);
	snprintf(o.maps[0].name, sizeof(o.maps[0].name), "st");
	o.maps[0].fd = fd;
	o.maps[0].type = BPF_MAP_TYPE_PERCPU_ARRAY;
	o.maps[0].key_size = 4;
	o.maps[0].value_size = 12;
	o.maps[0].max_entries = 4;
	o.nmaps = 1;
	c.svc = &s;
	c.obj = &o;

	scope = cub_val__map();
	ports = cub_val__array();
	e = cub_val__map();
	cub_val__set(e, "name", cub_val__str("p2"));
	cub_val__set(e, "index", cub_val__uint(2));
	cub_val__push(ports, e);
	e = cub_val__map();
	cub_val__set(e, "name", cub_val__str("p0"));
	cub_val__set(e, "index", cub_val__uint(0));
	cub_val__push(ports, e);
	e = cub_val__map(); /* past max_entries: no entry, reads 0 */
	cub_val__set(e, "name", cub_val__str("p9"));
	cub_val__set(e, "index", cub_val__uint(9));
	cub_val__push(ports, e);
	e = cub_val__map(); /* keys only: not shown, not read */
	cub_val__set(e, "name", cub_val__str("pk"));
	cub_val__push(ports, e);
	cub_val__set(scope, "ports", ports);

	ov = counters_overlay(&b, &c, scope);
	ck_assert_ptr_nonnull(ov);
	ports = cub_val__get(ov, "ports");
	ck_assert_ptr_nonnull(ports);
	ck_assert_uint_eq(ports->arr.len, 4);
	oe = ports->arr.items[0];
	ck_assert_str_eq(cub_val__get_str(oe, "name"), "p2");
	ck_assert_int_eq(cub_val__as_u64(cub_val__get(oe, "a"), &v), 0);
	ck_assert_uint_eq(
	    v, 100ull * ncpus + (uint64_t)ncpus * (ncpus - 1) / 2);
	ck_assert_int_eq(cub_val__as_u64(cub_val__get(oe, "b"), &v), 0);
	ck_assert_uint_eq(v, 7ull * ncpus);
	oe = ports->arr.items[1];
	ck_assert_int_eq(cub_val__as_u64(cub_val__get(oe, "a"), &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(
	    cub_val__as_u64(cub_val__get(ports->arr.items[2], "a"), &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_ptr_null(cub_val__get(ports->arr.items[3], "a"));
	cub_val__free(ov);

	/* A map the broker holds with another shape than bound: unread. */
	o.maps[0].value_size = 8;
	ov = counters_overlay(&b, &c, scope);
	ck_assert_ptr_null(
	    cub_val__get(cub_val__get(ov, "ports")->arr.items[0], "b"));
	cub_val__free(ov);

	cub_val__free(scope);
	s.counters = counters_free(s.counters);
	free(buf);
	close(fd);
	pthread_mutex_destroy(&b.lock);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("counters");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, percpu_sum);
	tcase_add_test(tc, hello_checks);
	tcase_add_test(tc, depth_and_ro_parents);
	tcase_add_test(tc, percpu_map_overlay);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
