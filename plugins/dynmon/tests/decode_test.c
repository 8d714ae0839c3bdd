// SPDX-License-Identifier: BSD-2-Clause
/*
 * dynmon-decode: the catalogue, the BTF decoder and the metric families
 * against tests/dm_types.bpf.c, compiled at build time, with bytes built
 * here from the same C types (tests/dm_types.h).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/bpf.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "btfval.h"
#include "catalog.h"
#include "check_run.h"
#include "families.h"
#include "tests/dm_types.h"
/* The skeleton names the types of its globals: after dm_types.h. */
#include "dm_types.skel.h"

static struct dm_catalog *
open_cat(void)
{
	struct dm_catalog *cat;
	const void *elf;
	size_t len;
	char err[256] = "";

	elf = dm_types__elf_bytes(&len);
	ck_assert_msg(
	    !dm_catalog_open(elf, len, &cat, err, sizeof(err)), "%s", err);
	return cat;
}

static const struct dm_map *
need(const struct dm_catalog *cat, char path, const char *name)
{
	const struct dm_map *m = dm_catalog_find(cat, path, name);

	ck_assert_msg(m, "map %c %s not found", path, name);
	return m;
}

static struct cub_val *
json(const char *s)
{
	char err[256];
	struct cub_val *v = cub_json_parse(s, strlen(s), err, sizeof(err));

	ck_assert_msg(v, "bad test JSON: %s", err);
	return v;
}

/* v equals the JSON text want (maps compared as sets); frees v. */
static void
check_json(struct cub_val *v, const char *want)
{
	struct cub_val *w = json(want);
	char *got = cub_json_emit(v, false);

	ck_assert_msg(cub_val__equal(v, w), "got %s\nwant %s", got, want);
	free(got);
	cub_val__free(w);
	cub_val__free(v);
}

/* ---- catalogue ---- */

START_TEST(catalog_maps)
{
	struct dm_catalog *cat = open_cat();
	const struct dm_map *m;
	const char *swap[] = {"CNT"};
	const char *bad[] = {"CNT", "OTHER"};
	char err[256] = "";

	m = need(cat, 'i', "SIMPLE_HASH");
	ck_assert_str_eq(m->name, "i_SIMPLE_HASH");
	ck_assert_str_eq(m->user, "SIMPLE_HASH");
	ck_assert_int_eq(m->type, BPF_MAP_TYPE_HASH);
	ck_assert_uint_eq(m->key_size, 13);
	ck_assert_uint_eq(m->value_size, 4);
	ck_assert_uint_eq(m->max_entries, 1024);
	ck_assert(m->key_type_id && m->value_type_id && !m->percpu);
	ck_assert_str_eq(m->swap_set, "");
	m = need(cat, 'i', "SIMPLE_QUEUE");
	ck_assert_int_eq(m->type, BPF_MAP_TYPE_QUEUE);
	ck_assert_uint_eq(m->key_size, 0);
	ck_assert_uint_eq(m->value_size, 10);
	ck_assert_uint_eq(m->key_type_id, 0);
	m = need(cat, 'e', "STK");
	ck_assert_int_eq(m->type, BPF_MAP_TYPE_STACK);
	m = need(cat, 'i', "PCPUH");
	ck_assert(m->percpu);
	ck_assert(!dm_catalog_find(cat, 'e', "SIMPLE_HASH"));
	ck_assert(!dm_catalog_find(cat, 'i', "STK"));
	ck_assert(!dm_catalog_find(cat, 'i', "NOPE"));
	ck_assert(!dm_catalog_find(cat, 'x', "SIMPLE_HASH"));
	m = dm_catalog_by_name(cat, "dm_log");
	ck_assert(m && m->path == 0 && m->user[0] == 0);
	ck_assert_int_eq(m->type, BPF_MAP_TYPE_RINGBUF);

	/* Swapped maps: only through the binding of the path's swap list. */
	ck_assert(!dm_catalog_find(cat, 'i', "CNT"));
	ck_assert_int_eq(
	    dm_catalog_bind_swap(cat, 'e', swap, 1, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "'CNT'") && strstr(err, "e0"), "%s", err);
	ck_assert_int_eq(
	    dm_catalog_bind_swap(cat, 'i', bad, 2, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "'OTHER'") && strstr(err, "i1"), "%s", err);
	ck_assert(!dm_catalog_find(cat, 'i', "CNT"));
	ck_assert(!dm_catalog_bind_swap(cat, 'i', swap, 1, err, sizeof(err)));
	m = need(cat, 'i', "CNT");
	ck_assert_str_eq(m->name, "i0_c0");
	ck_assert_str_eq(m->swap_set, "i0");
	ck_assert_str_eq(m->user, "CNT");
	ck_assert_uint_eq(m->copy, 0);
	ck_assert_int_eq(m->type, BPF_MAP_TYPE_HASH);
	ck_assert_uint_eq(m->key_size, 4);
	ck_assert_uint_eq(m->value_size, 8);
	m = dm_catalog_copy(cat, m, 1);
	ck_assert(m);
	ck_assert_str_eq(m->name, "i0_c1");
	ck_assert_str_eq(m->user, "CNT");
	ck_assert(!dm_catalog_copy(cat, m, 2));
	m = dm_catalog_by_name(cat, "i0__m");
	ck_assert(m && m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS);
	dm_catalog_free(cat);
}
END_TEST

START_TEST(catalog_bad_input)
{
	struct dm_catalog *cat = NULL;
	const uint8_t *elf;
	char err[256];
	size_t len, cut;
	static const char junk[] = "not an ELF object at all";

	ck_assert_int_eq(
	    dm_catalog_open(junk, sizeof(junk), &cat, err, sizeof(err)),
	    -EINVAL);
	ck_assert_msg(strstr(err, "ELF"), "%s", err);
	ck_assert(!cat);
	ck_assert_int_eq(
	    dm_catalog_open(junk, 0, &cat, err, sizeof(err)), -EINVAL);
	/* Every truncation of the object: an error or a catalogue, never
	 * a crash (ASan watches). */
	elf = dm_types__elf_bytes(&len);
	for (cut = 1; cut < len; cut += cut < 4096 ? 1 : 61) {
		int r = dm_catalog_open(elf, cut, &cat, err, sizeof(err));

		if (!r)
			cat = dm_catalog_free(cat);
		else
			ck_assert_msg(
			    r == -EINVAL && err[0], "cut %zu: %d", cut, r);
	}
}
END_TEST

/* The catalogue and the decoder under a filter that kills bpf() and
 * every open: they touch neither the kernel's BPF nor the disk. */
static int
run_sandboxed(bool call_bpf)
{
	struct dm_catalog *cat;
	struct cub_val *v;
	const void *elf;
	size_t len;
	char err[256];
	struct pkt_5tuple k = {1, 2, 11, 22, 0};
	int val = 0;
	struct dm_entries e = {&k, &val, 1, 1};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	elf = dm_types__elf_bytes(&len);
	if (!ctx ||
	    seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(bpf), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(openat), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(open), 0) ||
	    seccomp_rule_add(
		ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(openat2), 0) ||
	    seccomp_load(ctx))
		return 3;
	if (call_bpf)
		syscall(__NR_bpf, 0, NULL, 0);
	if (dm_catalog_open(elf, len, &cat, err, sizeof(err)))
		return 4;
	if (dm_map_value(cat, dm_catalog_find(cat, 'i', "SIMPLE_HASH"), &e, &v,
		err, sizeof(err)))
		return 5;
	cub_val__free(v);
	dm_catalog_free(cat);
	return 0;
}

static int
sandboxed_status(bool call_bpf)
{
	pid_t pid = fork();
	int st;

	ck_assert(pid >= 0);
	if (!pid)
		_exit(run_sandboxed(call_bpf));
	ck_assert(waitpid(pid, &st, 0) == pid);
	return st;
}

START_TEST(catalog_sandboxed)
{
	int st = sandboxed_status(true);

	/* The filter works: bpf() kills the child. */
	ck_assert_msg(
	    WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status %#x", st);
	st = sandboxed_status(false);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}
END_TEST

/* ---- decoding ---- */

START_TEST(decode_polycube_json)
{
	struct dm_catalog *cat = open_cat();
	struct pkt_5tuple k = {1, 2, 11, 22, 0};
	int val = 0;
	struct pkt_info pi = {1010, 1010}, q[2] = {{1010, 1010}, {7, 8}};
	struct dm_entries e = {&k, &val, 1, 1};
	uint32_t zero = 0;
	struct cub_val *v;
	char err[256], *s;

	ck_assert(!dm_map_value(
	    cat, need(cat, 'i', "SIMPLE_HASH"), &e, &v, err, sizeof(err)));
	s = cub_json_emit(v, false);
	ck_assert_str_eq(s, "[{\"key\":{\"saddr\":1,\"daddr\":2,\"sport\":11,"
			    "\"dport\":22,\"proto\":0},\"value\":0}]");
	free(s);
	cub_val__free(v);
	e = (struct dm_entries){&zero, &pi, 1, 1};
	ck_assert(!dm_map_value(
	    cat, need(cat, 'i', "SIMPLE_ARRAY"), &e, &v, err, sizeof(err)));
	s = cub_json_emit(v, false);
	ck_assert_str_eq(s, "[{\"timestamp\":1010,\"length\":1010}]");
	free(s);
	cub_val__free(v);
	/* A queue read: the popped values (keys NULL). */
	e = (struct dm_entries){NULL, q, 2, 1};
	ck_assert(!dm_map_value(
	    cat, need(cat, 'i', "SIMPLE_QUEUE"), &e, &v, err, sizeof(err)));
	s = cub_json_emit(v, false);
	ck_assert_str_eq(s, "[{\"timestamp\":1010,\"length\":1010},{"
			    "\"timestamp\":7,\"length\":8}]");
	free(s);
	cub_val__free(v);
	dm_catalog_free(cat);
}
END_TEST

static void
fill_all(struct dm_all *a)
{
	memset(a, 0, sizeof(*a));
	a->u8 = 255;
	a->s8 = -5;
	a->u16 = 65535;
	a->s16 = -32768;
	a->u32 = 4294967295u;
	a->s32 = -2147483647 - 1;
	a->u64 = 18446744073709551615ull;
	a->s64 = -9223372036854775807ll - 1;
	a->flag = 1;
	strcpy(a->name, "eth0-é");
	memcpy(a->mac, "\x02\x00\x00\x00\x00\x01", 6);
	for (int i = 0; i < 6; i++)
		a->grid[i / 3][i % 3] = (uint16_t)(i + 1);
	a->un.word = 0x04030201;
	a->color = DM_GREEN;
	a->bits.a = 5;
	a->bits.b = -7;
	a->bits.big = (1ull << 40) - 2;
	a->bits.top = 0xbeef;
	a->bits.color = DM_RED;
	a->nest.x = 9;
	a->nest.inner.y = 10;
	a->anon_a = 77;
	memset(a->__pad_tail, 0xaa, sizeof(a->__pad_tail));
	*(__u32 *)&a->cv = 3;
	a->u128 = ((unsigned __int128)1 << 64) + 5;
	a->s128 = -1;
}

static const char all_json[] =
    "{\"u8\":255,\"s8\":-5,\"u16\":65535,\"s16\":-32768,\"u32\":4294967295,"
    "\"s32\":-2147483648,\"u64\":18446744073709551615,"
    "\"s64\":-9223372036854775808,\"flag\":true,\"name\":\"eth0-é\","
    "\"mac\":[2,0,0,0,0,1],\"grid\":[[1,2,3],[4,5,6]],"
    "\"un\":{\"word\":67305985,\"bytes\":[1,2,3,4]},\"color\":2,"
    "\"bits\":{\"a\":5,\"b\":-7,\"big\":1099511627774,\"top\":48879,\"color\":"
    "1},"
    "\"nest\":{\"x\":9,\"inner\":{\"y\":10}},\"anon_a\":77,\"anon_b\":77,"
    "\"cv\":3,\"u128\":\"18446744073709551621\",\"s128\":\"-1\"}";

START_TEST(decode_all_kinds)
{
	struct dm_catalog *cat = open_cat();
	const struct dm_map *m = need(cat, 'i', "ALL");
	struct dm_all a;
	struct cub_val *v;
	char err[256] = "";

	fill_all(&a);
	ck_assert_uint_eq(m->value_size, sizeof(a));
	ck_assert_msg(!dm_decode(cat, m->value_type_id, &a, sizeof(a), &v, err,
			  sizeof(err)),
	    "%s", err);
	ck_assert_int_eq(cub_val__get(v, "u64")->kind, CUB_V_UINT);
	ck_assert(cub_val__get(v, "u64")->u == 18446744073709551615ull);
	check_json(v, all_json);
	/* A name that is not UTF-8: the bytes as numbers. */
	memset(a.name, 0, sizeof(a.name));
	a.name[0] = 'a';
	a.name[1] = (char)0xff;
	ck_assert(!dm_decode(
	    cat, m->value_type_id, &a, sizeof(a), &v, err, sizeof(err)));
	ck_assert_int_eq(cub_val__get(v, "name")->kind, CUB_V_ARRAY);
	ck_assert_uint_eq(cub_val__get(v, "name")->arr.len, 16);
	cub_val__free(v);
	dm_catalog_free(cat);
}
END_TEST

static uint32_t
find_kind(const struct btf *btf, unsigned kind)
{
	uint32_t id, n = btf__type_cnt(btf);

	for (id = 1; id < n; id++)
		if (btf_kind(btf__type_by_id(btf, id)) == kind)
			return id;
	return 0;
}

START_TEST(decode_bad_input)
{
	struct dm_catalog *cat = open_cat();
	const struct dm_map *m = need(cat, 'i', "ALL");
	uint8_t buf[sizeof(struct dm_all) + 1];
	struct cub_val *v = (struct cub_val *)1;
	char err[256];
	size_t len;
	uint32_t id;
	int i;

	fill_all((struct dm_all *)buf);
	/* Every truncation (and one byte too many) is refused, naming the
	 * type and both lengths. */
	for (len = 0; len <= sizeof(buf); len++) {
		if (len == sizeof(struct dm_all))
			continue;
		err[0] = 0;
		ck_assert_int_eq(dm_decode(cat, m->value_type_id, buf, len, &v,
				     err, sizeof(err)),
		    -EINVAL);
		ck_assert(!v);
		ck_assert_msg(
		    strstr(err, "dm_all") && strstr(err, "bytes"), "%s", err);
	}
	ck_assert_int_eq(
	    dm_decode(cat, 999999, buf, 4, &v, err, sizeof(err)), -EINVAL);
	ck_assert_msg(
	    strstr(err, "999999") && strstr(err, "unknown"), "%s", err);
	id = find_kind(cat->btf, BTF_KIND_PTR);
	ck_assert(id);
	ck_assert_int_eq(
	    dm_decode(cat, id, buf, 8, &v, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "pointer"), "%s", err);
	id = find_kind(cat->btf, BTF_KIND_FUNC);
	ck_assert(id);
	ck_assert_int_eq(
	    dm_decode(cat, id, buf, 8, &v, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "function"), "%s", err);
	id = find_kind(cat->btf, BTF_KIND_FUNC_PROTO);
	ck_assert_int_eq(
	    dm_decode(cat, id, buf, 8, &v, err, sizeof(err)), -EINVAL);
	/* Random bytes of the right length decode to something. */
	srand(7);
	for (i = 0; i < 2000; i++) {
		for (len = 0; len < sizeof(struct dm_all); len++)
			buf[len] = (uint8_t)rand();
		ck_assert(!dm_decode(cat, m->value_type_id, buf,
		    sizeof(struct dm_all), &v, err, sizeof(err)));
		cub_val__free(v);
	}
	/* A whole-map read with a bad CPU count or map type. */
	{
		uint64_t vals[2] = {0};
		uint32_t keys[2] = {0, 1};
		struct dm_entries e = {keys, vals, 1, 0};

		ck_assert_int_eq(dm_map_value(cat, need(cat, 'i', "PCPU"), &e,
				     &v, err, sizeof(err)),
		    -EINVAL);
		ck_assert_msg(
		    strstr(err, "i_PCPU") && strstr(err, "CPUs"), "%s", err);
		ck_assert_int_eq(
		    dm_map_value(cat, dm_catalog_by_name(cat, "dm_log"), &e, &v,
			err, sizeof(err)),
		    -EINVAL);
		ck_assert_msg(strstr(err, "dm_log"), "%s", err);
	}
	dm_catalog_free(cat);
}
END_TEST

START_TEST(decode_percpu)
{
	struct dm_catalog *cat = open_cat();
	uint64_t v3[3] = {1, 2, 3};
	/* u32 values at a stride of 8 per CPU: the kernel's layout. */
	uint32_t hv[2][4] = {{10, 0xdead, 20, 0xdead}, {30, 0, 40, 0}};
	uint32_t keys[2] = {7, 8}, zero = 0;
	struct dm_entries e = {&zero, v3, 1, 3};
	struct cub_val *v;
	char err[256] = "";

	ck_assert(!dm_map_value(
	    cat, need(cat, 'i', "PCPU"), &e, &v, err, sizeof(err)));
	check_json(v, "[{\"key\":0,\"value\":[1,2,3]}]");
	e = (struct dm_entries){keys, hv, 2, 2};
	ck_assert_msg(!dm_map_value(cat, need(cat, 'i', "PCPUH"), &e, &v, err,
			  sizeof(err)),
	    "%s", err);
	check_json(
	    v, "[{\"key\":7,\"value\":[10,20]},{\"key\":8,\"value\":[30,40]}]");
	dm_catalog_free(cat);
}
END_TEST

/* ---- families ---- */

static struct cub_val *
family(const struct dm_catalog *cat, const char *map, const char *mc_json,
    const struct dm_entries *e)
{
	struct cub_val *mc = json(mc_json), *f = NULL;
	char err[256] = "";

	ck_assert_msg(!dm_families_from_metric(cat, need(cat, 'i', map), mc, e,
			  &f, err, sizeof(err)),
	    "%s", err);
	cub_val__free(mc);
	return f;
}

static void
family_fails(const struct dm_catalog *cat, const char *map, const char *mc_json,
    const struct dm_entries *e, const char *want)
{
	struct cub_val *mc = json(mc_json), *f = (struct cub_val *)1;
	char err[256] = "";

	ck_assert_int_eq(dm_families_from_metric(cat, need(cat, 'i', map), mc,
			     e, &f, err, sizeof(err)),
	    -EINVAL);
	ck_assert(!f);
	ck_assert_msg(strstr(err, want), "error '%s' lacks '%s'", err, want);
	cub_val__free(mc);
}

START_TEST(families_counters)
{
	struct dm_catalog *cat = open_cat();
	uint64_t n = 42, pc[3] = {1, 2, 3}, ports[4] = {5, 6, 7, 8};
	uint32_t zero = 0, idx[4] = {0, 1, 2, 3};
	struct dm_entries e = {&zero, &n, 1, 1};
	struct dm_map ports_map;

	/* Polycube's NTP example: static labels, _total stripped. */
	check_json(
	    family(cat, "NTP_PACKETS",
		"{\"name\":\"ntp_packets_total\",\"map-name\":\"NTP_PACKETS\","
		"\"open-metrics-metadata\":{\"help\":\"NTP packets\","
		"\"type\":\"Counter\",\"labels\":[{\"name\":\"IP_PROTO\","
		"\"value\":\"UDP\"},{\"name\":\"L4\",\"value\":\"NTP\"}]}}",
		&e),
	    "{\"name\":\"ntp_packets\",\"help\":\"NTP "
	    "packets\",\"type\":\"counter\","
	    "\"samples\":[{\"labels\":{\"IP_PROTO\":\"UDP\",\"L4\":\"NTP\"},"
	    "\"value\":42}]}");
	/* A gauge keeps its name; per-CPU values are summed. */
	e = (struct dm_entries){&zero, pc, 1, 3};
	check_json(family(cat, "PCPU",
		       "{\"name\":\"level_total\",\"open-metrics-metadata\":"
		       "{\"help\":\"h\",\"type\":\"GAUGE\"}}",
		       &e),
	    "{\"name\":\"level_total\",\"help\":\"h\",\"type\":\"gauge\","
	    "\"samples\":[{\"labels\":{},\"value\":6}]}");
	/* An array of several entries: label index. */
	ports_map = *need(cat, 'e', "PORTS");
	{
		struct cub_val *mc = json(
		    "{\"name\":\"p\",\"open-metrics-metadata\":{\"help\":\"h\","
		    "\"type\":\"untyped\",\"labels\":[{\"name\":\"dir\","
		    "\"value\":\"out\"}]}}");
		struct cub_val *f;
		char err[256];

		e = (struct dm_entries){idx, ports, 4, 1};
		ck_assert(!dm_families_from_metric(
		    cat, &ports_map, mc, &e, &f, err, sizeof(err)));
		check_json(f, "{\"name\":\"p\",\"help\":\"h\",\"type\":"
			      "\"unknown\",\"samples\":["
			      "{\"labels\":{\"dir\":\"out\",\"index\":\"0\"},"
			      "\"value\":5},"
			      "{\"labels\":{\"dir\":\"out\",\"index\":\"1\"},"
			      "\"value\":6},"
			      "{\"labels\":{\"dir\":\"out\",\"index\":\"2\"},"
			      "\"value\":7},"
			      "{\"labels\":{\"dir\":\"out\",\"index\":\"3\"},"
			      "\"value\":8}]}");
		cub_val__free(mc);
	}
	dm_catalog_free(cat);
}
END_TEST

START_TEST(families_flows)
{
	struct dm_catalog *cat = open_cat();
	struct flow_key *k = calloc(5000, sizeof(*k));
	uint64_t *v = calloc(5000, sizeof(*v));
	struct dm_entries e = {k, v, 1, 1};
	struct cub_val *f;
	const char *mc =
	    "{\"name\":\"flow_bytes_total\",\"open-metrics-metadata\":"
	    "{\"help\":\"bytes per flow\",\"type\":\"counter\","
	    "\"labels\":[{\"name\":\"cube\",\"value\":\"mon1\"}]}}";
	uint32_t i;

	memcpy(&k[0].saddr, "\x0a\x00\x00\x01", 4);
	memcpy(&k[0].daddr, "\xc0\xa8\x01\xfe", 4);
	k[0].sport = htons(40000);
	k[0].dport = htons(123);
	k[0].proto = 17;
	memcpy(k[0].mac, "\x02\xab\x00\x00\x00\x01", 6);
	strcpy(k[0].ifname, "veth0");
	k[0].__pad0 = 0x55;
	v[0] = 1500;
	check_json(family(cat, "FLOWS", mc, &e),
	    "{\"name\":\"flow_bytes\",\"help\":\"bytes per "
	    "flow\",\"type\":\"counter\","
	    "\"samples\":[{\"labels\":{\"cube\":\"mon1\",\"saddr\":\"10.0.0."
	    "1\","
	    "\"daddr\":\"192.168.1.254\",\"sport\":\"40000\",\"dport\":\"123\","
	    "\"proto\":\"17\",\"mac\":\"02:ab:00:00:00:01\",\"ifname\":"
	    "\"veth0\"},"
	    "\"value\":1500}]}");
	/* The series cap: 5000 flows give DM_SERIES_MAX samples, the rest
	 * counted. */
	for (i = 0; i < 5000; i++) {
		k[i].saddr = htonl(0x0a000000 + i);
		v[i] = i;
	}
	e.count = 5000;
	f = family(cat, "FLOWS", mc, &e);
	ck_assert_uint_eq(cub_val__get(f, "samples")->arr.len, DM_SERIES_MAX);
	ck_assert(cub_val__get(f, "dropped")->u == 5000 - DM_SERIES_MAX);
	ck_assert_str_eq(
	    cub_val__get_str(
		cub_val__get(
		    cub_val__get(f, "samples")->arr.items[4095], "labels"),
		"saddr"),
	    "10.0.15.255");
	cub_val__free(f);
	/* Static labels may not shadow key fields. */
	family_fails(cat, "FLOWS",
	    "{\"name\":\"x\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":"
	    "\"counter\",\"labels\":[{\"name\":\"saddr\",\"value\":\"v\"}]}}",
	    &e, "'saddr'");
	free(k);
	free(v);
	dm_catalog_free(cat);
}
END_TEST

START_TEST(families_other_keys)
{
	struct dm_catalog *cat = open_cat();
	struct v6_key k[1];
	int32_t gv = -12;
	uint32_t hk[2] = {7, 8};
	/* u32 per-CPU values at a stride of 8, 2 CPUs. */
	uint32_t hv[2][4] = {{10, 0, 20, 0}, {30, 0, 40, 0}};
	struct dm_entries e = {k, &gv, 1, 1};

	memset(k, 0, sizeof(k));
	inet_pton(AF_INET6, "2001:db8::1", k[0].src_addr);
	k[0].l4.port = htons(8080);
	k[0].l4.flags = 5;
	k[0].temp = -40;
	check_json(
	    family(cat, "V6",
		"{\"name\":\"t\",\"open-metrics-metadata\":{\"help\":\"h\","
		"\"type\":\"gauge\"}}",
		&e),
	    "{\"name\":\"t\",\"help\":\"h\",\"type\":\"gauge\",\"samples\":["
	    "{\"labels\":{\"src_addr\":\"2001:db8::1\",\"l4_port\":\"8080\","
	    "\"l4_flags\":\"5\",\"temp\":\"-40\"},\"value\":-12}]}");
	/* A per-CPU hash with a scalar key: label "key", CPUs summed. */
	e = (struct dm_entries){hk, hv, 2, 2};
	check_json(
	    family(cat, "PCPUH",
		"{\"name\":\"c_total\",\"open-metrics-metadata\":{\"help\":"
		"\"h\",\"type\":\"counter\"}}",
		&e),
	    "{\"name\":\"c\",\"help\":\"h\",\"type\":\"counter\",\"samples\":["
	    "{\"labels\":{\"key\":\"7\"},\"value\":30},"
	    "{\"labels\":{\"key\":\"8\"},\"value\":70}]}");
	dm_catalog_free(cat);
}
END_TEST

START_TEST(families_histograms)
{
	struct dm_catalog *cat = open_cat();
	uint64_t lat[10], sz[6][2];
	uint32_t keys[10], i;
	struct dm_entries e = {keys, lat, 10, 1};

	for (i = 0; i < 10; i++) {
		keys[i] = i;
		lat[i] = i + 1;
	}
	lat[9] = 1000; /* bucket-max + 1: the sum */
	check_json(
	    family(cat, "LAT_HIST",
		"{\"name\":\"latency_seconds\",\"open-metrics-metadata\":"
		"{\"help\":\"latency\",\"type\":\"histogram\",\"labels\":"
		"[{\"name\":\"path\",\"value\":\"ingress\"}]},"
		"\"histogram\":{\"kind\":\"exp2\",\"bucket-max\":8}}",
		&e),
	    "{\"name\":\"latency_seconds\",\"help\":\"latency\",\"type\":"
	    "\"histogram\","
	    "\"samples\":[{\"labels\":{\"path\":\"ingress\"},\"buckets\":["
	    "{\"le\":1,\"count\":1},{\"le\":2,\"count\":3},{\"le\":4,\"count\":"
	    "6},"
	    "{\"le\":8,\"count\":10},{\"le\":16,\"count\":15},{\"le\":32,"
	    "\"count\":21},"
	    "{\"le\":64,\"count\":28},{\"le\":128,\"count\":36},{\"le\":256,"
	    "\"count\":45},"
	    "{\"le\":\"+Inf\",\"count\":45}],\"count\":45,\"sum\":1000}]}");
	/* Linear, per-CPU (summed), a multiplier, bucket-min > 0. */
	for (i = 0; i < 6; i++) {
		sz[i][0] = i;
		sz[i][1] = 10 * i;
	}
	e = (struct dm_entries){keys, sz, 6, 2};
	check_json(
	    family(cat, "SIZE_HIST",
		"{\"name\":\"packet_size_bytes\",\"open-metrics-metadata\":"
		"{\"help\":\"sizes\",\"type\":\"Histogram\"},"
		"\"histogram\":{\"kind\":\"linear\",\"bucket-multiplier\":100,"
		"\"bucket-min\":1,\"bucket-max\":4}}",
		&e),
	    "{\"name\":\"packet_size_bytes\",\"help\":\"sizes\",\"type\":"
	    "\"histogram\","
	    "\"samples\":[{\"labels\":{},\"buckets\":["
	    "{\"le\":100,\"count\":11},{\"le\":200,\"count\":33},"
	    "{\"le\":300,\"count\":66},{\"le\":400,\"count\":110},"
	    "{\"le\":\"+Inf\",\"count\":110}],\"count\":110,\"sum\":5500}]}");
	/* exp2 with a fractional multiplier: le as floats. */
	{
		struct cub_val *f;

		e = (struct dm_entries){keys, lat, 3, 1};
		f = family(cat, "LAT_HIST",
		    "{\"name\":\"l\",\"open-metrics-metadata\":{\"help\":\"h\","
		    "\"type\":\"histogram\"},\"histogram\":{\"kind\":\"exp2\","
		    "\"bucket-multiplier\":0.001,\"bucket-max\":1}}",
		    &e);
		check_json(f,
		    "{\"name\":\"l\",\"help\":\"h\",\"type\":\"histogram\","
		    "\"samples\":["
		    "{\"labels\":{},\"buckets\":[{\"le\":0.001,\"count\":1},"
		    "{\"le\":0.002,\"count\":3},{\"le\":\"+Inf\",\"count\":3}],"
		    "\"count\":3,\"sum\":0.003}]}");
	}
	family_fails(cat, "LAT_HIST",
	    "{\"name\":\"l\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":\"histogram\"},\"histogram\":{\"kind\":\"exp2\","
	    "\"bucket-max\":10}}",
	    &e, "do not fit");
	family_fails(cat, "LAT_HIST",
	    "{\"name\":\"l\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":\"histogram\"},\"histogram\":{\"kind\":\"log10\"}}",
	    &e, "exp2");
	family_fails(cat, "LAT_HIST",
	    "{\"name\":\"l\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":\"histogram\"}}",
	    &e, "needs the \"histogram\" field");
	family_fails(cat, "FLOWS",
	    "{\"name\":\"l\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":\"histogram\"},\"histogram\":{\"kind\":\"exp2\"}}",
	    &e, "ARRAY or PERCPU_ARRAY");
	dm_catalog_free(cat);
}
END_TEST

START_TEST(families_bad_config)
{
	struct dm_catalog *cat = open_cat();
	struct dm_entries e = {0};

	family_fails(cat, "SIMPLE_ARRAY",
	    "{\"name\":\"pkt_info\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":\"gauge\"}}",
	    &e,
	    "metric 'pkt_info': the value of map 'i_SIMPLE_ARRAY' is struct "
	    "'pkt_info', not a number");
	family_fails(cat, "NTP_PACKETS",
	    "{\"name\":\"s\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":\"Summary\"}}",
	    &e, "summary");
	family_fails(cat, "NTP_PACKETS",
	    "{\"name\":\"s\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":\"Bogus\"}}",
	    &e, "'Bogus'");
	family_fails(cat, "NTP_PACKETS",
	    "{\"name\":\"1s\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":\"gauge\"}}",
	    &e, "'1s'");
	family_fails(cat, "NTP_PACKETS", "{\"name\":\"s\"}", &e,
	    "no open-metrics-metadata");
	family_fails(cat, "NTP_PACKETS",
	    "{\"name\":\"s\",\"open-metrics-metadata\":{\"type\":\"gauge\"}}",
	    &e, "help");
	family_fails(cat, "NTP_PACKETS",
	    "{\"name\":\"s\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":"
	    "\"gauge\",\"labels\":[{\"name\":\"a-b\",\"value\":\"v\"}]}}",
	    &e, "label 0");
	family_fails(cat, "NTP_PACKETS",
	    "{\"name\":\"s\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":"
	    "\"gauge\",\"labels\":[{\"name\":\"a\",\"value\":\"v\"},{\"name\":"
	    "\"a\","
	    "\"value\":\"w\"}]}}",
	    &e, "'a' appears twice");
	family_fails(cat, "NTP_PACKETS",
	    "{\"name\":\"s\",\"open-metrics-metadata\":{\"help\":\"h\","
	    "\"type\":"
	    "\"gauge\"},\"histogram\":{\"kind\":\"exp2\"}}",
	    &e, "with type gauge");
	dm_catalog_free(cat);
}
END_TEST

/* ---- totals ---- */

START_TEST(totals_accumulate)
{
	struct dm_totals *t = dm_totals_new();
	struct cub_val *d1 = json(
	    "{\"name\":\"pk\",\"help\":\"h\",\"type\":\"counter\",\"samples\":["
	    "{\"labels\":{\"a\":\"1\",\"b\":\"2\"},\"value\":5},"
	    "{\"labels\":{\"a\":\"9\"},\"value\":1}]}");
	/* Same series with labels in another order, and a new one. */
	struct cub_val *d2 = json(
	    "{\"name\":\"pk\",\"help\":\"h\",\"type\":\"counter\",\"samples\":["
	    "{\"labels\":{\"b\":\"2\",\"a\":\"1\"},\"value\":7},"
	    "{\"labels\":{\"a\":\"3\"},\"value\":2}]}");
	struct cub_val *h1 = json("{\"name\":\"lat\",\"help\":\"h\",\"type\":"
				  "\"histogram\",\"samples\":["
				  "{\"labels\":{},\"buckets\":[{\"le\":1,"
				  "\"count\":1},{\"le\":\"+Inf\","
				  "\"count\":2}],\"count\":2,\"sum\":3}]}");
	struct cub_val *g = json(
	    "{\"name\":\"lvl\",\"help\":\"h\",\"type\":\"gauge\",\"samples\":["
	    "{\"labels\":{},\"value\":4}]}");
	struct cub_val *bad = json("{\"name\":\"pk\",\"help\":\"h\",\"type\":"
				   "\"gauge\",\"samples\":[]}");
	struct cub_val *hbad = json("{\"name\":\"lat\",\"help\":\"h\",\"type\":"
				    "\"histogram\",\"samples\":["
				    "{\"labels\":{},\"buckets\":[{\"le\":2,"
				    "\"count\":1},{\"le\":\"+Inf\","
				    "\"count\":2}],\"count\":2,\"sum\":3}]}");
	struct cub_val *out, *out2;
	char err[256];

	ck_assert(!dm_totals_add(t, d1, true, err, sizeof(err)));
	ck_assert(!dm_totals_add(t, h1, true, err, sizeof(err)));
	ck_assert(!dm_totals_add(t, g, true, err, sizeof(err)));
	ck_assert(!dm_totals_add(t, d2, true, err, sizeof(err)));
	ck_assert(!dm_totals_add(t, h1, true, err, sizeof(err)));
	ck_assert(!dm_totals_add(t, g, true, err, sizeof(err)));
	/* Refused adds change nothing. */
	ck_assert_int_eq(
	    dm_totals_add(t, bad, true, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "'pk'") && strstr(err, "type"), "%s", err);
	ck_assert_int_eq(
	    dm_totals_add(t, hbad, true, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "buckets"), "%s", err);
	/* Reading the totals is no side effect: twice the same. */
	ck_assert(!dm_totals_families(t, &out));
	ck_assert(!dm_totals_families(t, &out2));
	ck_assert(cub_val__equal(out, out2));
	cub_val__free(out2);
	check_json(out,
	    "[{\"name\":\"pk\",\"help\":\"h\",\"type\":\"counter\",\"samples\":"
	    "["
	    "{\"labels\":{\"a\":\"1\",\"b\":\"2\"},\"value\":12},"
	    "{\"labels\":{\"a\":\"9\"},\"value\":1},"
	    "{\"labels\":{\"a\":\"3\"},\"value\":2}]},"
	    "{\"name\":\"lat\",\"help\":\"h\",\"type\":\"histogram\","
	    "\"samples\":["
	    "{\"labels\":{},\"buckets\":[{\"le\":1,\"count\":2},{\"le\":\"+"
	    "Inf\","
	    "\"count\":4}],\"count\":4,\"sum\":6}]},"
	    "{\"name\":\"lvl\",\"help\":\"h\",\"type\":\"gauge\",\"samples\":["
	    "{\"labels\":{},\"value\":4}]}]");
	/* A cumulative (not delta) read replaces. */
	ck_assert(!dm_totals_add(t, d1, false, err, sizeof(err)));
	ck_assert(!dm_totals_families(t, &out));
	ck_assert(cub_val__get(
		      cub_val__get(out->arr.items[0], "samples")->arr.items[0],
		      "value")
		      ->u == 5);
	cub_val__free(out);
	dm_totals_forget(t, "pk");
	ck_assert(!dm_totals_add(t, bad, true, err, sizeof(err)));
	cub_val__free(d1);
	cub_val__free(d2);
	cub_val__free(h1);
	cub_val__free(g);
	cub_val__free(bad);
	cub_val__free(hbad);
	dm_totals_free(t);
}
END_TEST

START_TEST(totals_series_cap)
{
	struct dm_catalog *cat = open_cat();
	struct flow_key *k = calloc(5000, sizeof(*k));
	uint64_t *v = calloc(5000, sizeof(*v));
	struct dm_entries e = {k, v, 3000, 1};
	struct dm_totals *t = dm_totals_new();
	struct cub_val *f, *out;
	const char *mc = "{\"name\":\"fb_total\",\"open-metrics-metadata\":"
			 "{\"help\":\"h\",\"type\":\"counter\"}}";
	char err[256];
	uint32_t i, j;

	for (i = 0; i < 5000; i++) {
		k[i].saddr = htonl(0x0a000000 + i);
		v[i] = 1;
	}
	/* Two reads of 3000 different flows each: 4096 kept in totals. */
	for (j = 0; j < 2; j++) {
		e.keys = k + 2000 * j;
		f = family(cat, "FLOWS", mc, &e);
		ck_assert(!dm_totals_add(t, f, true, err, sizeof(err)));
		cub_val__free(f);
	}
	ck_assert(!dm_totals_families(t, &out));
	f = out->arr.items[0];
	ck_assert_uint_eq(cub_val__get(f, "samples")->arr.len, DM_SERIES_MAX);
	/* Flows 2000..2999 were in both reads. */
	for (i = 0; i < DM_SERIES_MAX; i++) {
		const struct cub_val *s =
		    cub_val__get(f, "samples")->arr.items[i];

		ck_assert_uint_eq(
		    cub_val__get(s, "value")->u, i >= 2000 && i < 3000 ? 2 : 1);
	}
	ck_assert(cub_val__get(f, "dropped")->u == 6000 - 1000 - DM_SERIES_MAX);
	cub_val__free(out);
	dm_totals_free(t);
	free(k);
	free(v);
	dm_catalog_free(cat);
}
END_TEST

static Suite *
decode_suite(void)
{
	Suite *s = suite_create("dynmon-decode");
	TCase *tc = tcase_create("all");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, catalog_maps);
	tcase_add_test(tc, catalog_bad_input);
	tcase_add_test(tc, catalog_sandboxed);
	tcase_add_test(tc, decode_polycube_json);
	tcase_add_test(tc, decode_all_kinds);
	tcase_add_test(tc, decode_bad_input);
	tcase_add_test(tc, decode_percpu);
	tcase_add_test(tc, families_counters);
	tcase_add_test(tc, families_flows);
	tcase_add_test(tc, families_other_keys);
	tcase_add_test(tc, families_histograms);
	tcase_add_test(tc, families_bad_config);
	tcase_add_test(tc, totals_accumulate);
	tcase_add_test(tc, totals_series_cap);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cubi_check_run(decode_suite());
}
