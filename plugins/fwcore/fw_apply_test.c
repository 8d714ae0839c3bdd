/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw-apply: fw_image_apply() and the counters against the fake broker
 * (cubicle/fake.h), through a test plugin whose apply() compiles the
 * current ruleset: the swap set flips on each apply, the active copy
 * holds exactly the image (the copy is emptied first: no stale LPM or
 * hash key), counters of slots new to the ruleset start at 0 and the
 * others keep counting; then, as root, the cube's program classifies
 * frames as the model does (cub_fake__test_run()).
 */
#include <check.h>

#include "check_run.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cubicle/fake.h>

#include "fw_apply.h"
#include "fw_cube_test.skel.h"
#include "fw_model.h"

static struct fw_rule rules[3][4];
static struct fw_chain chains[1];
static uint32_t read_slots[3] = {1, 7, 100};
static uint64_t read_pkts[3], read_bytes[3];

static int
t_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct fw_image *img = NULL;
	char err[256];
	size_t len;
	const void *elf = fw_cube_test__elf_bytes(&len);
	int r;

	if (create && (r = cub_cube__load(cube, elf, len)))
		return r;
	r = fw_compile(chains, 1, NULL, &img, err, sizeof(err));
	if (r)
		return cub_cube__set_error(cube, CUB_E_INVAL, "%s", err);
	r = fw_image_apply(cube, img, err, sizeof(err));
	fw_image_free(img);
	if (r)
		return cub_cube__set_error(cube, CUB_E_INTERNAL, "%s", err);
	return fw_counters_read(cube, read_slots, 3, read_pkts, read_bytes);
}

static const struct cub_field schema[] = {
    {.name = "gen",
	.type = CUB_T_U32,
	.dflt = "0",
	.help = "bump to apply the test's current ruleset"},
    {0}};

static const struct cub_plugin_ops ops = {.apply = t_apply};

static const struct cub_plugin plugin = {
    .abi = CUB_PLUGIN_ABI,
    .name = "fwapply",
    .description = "fw_image_apply() under test",
    .cube_size = 8,
    .schema = schema,
    .ops = &ops,
    .policy = {.prog_types = 1u << BPF_PROG_TYPE_SCHED_CLS,
	.map_types =
	    1ull << BPF_MAP_TYPE_ARRAY | 1ull << BPF_MAP_TYPE_PERCPU_ARRAY |
	    1ull << BPF_MAP_TYPE_HASH | 1ull << BPF_MAP_TYPE_LPM_TRIE |
	    1ull << BPF_MAP_TYPE_ARRAY_OF_MAPS | 1ull << BPF_MAP_TYPE_RINGBUF,
	.max_map_bytes = 256u << 20},
    CUB_PLUGIN_SIZES,
};

static struct cub_fake *f;

/* Ruleset gen: INPUT with rules of slots s[0..n-1], -s 198.18.<gen>.0/24
 * each (a distinct prefix per ruleset), -p tcp on the first. */
static void
ruleset(uint32_t gen, const uint32_t *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct fw_rule *r = &rules[0][i];

		fw_rule_init(r);
		r->slot = s[i];
		r->src.set = true;
		r->src.n = 1;
		r->src.p[0].addr = 0xc6120000u | gen << 8 | i << 4;
		r->src.p[0].len = 28;
		r->proto.set = i == 0;
		r->proto.proto = 6;
		r->target = FW_T_ACCEPT;
	}
	memset(chains, 0, sizeof(chains));
	strcpy(chains[0].name, "INPUT");
	chains[0].builtin = true;
	chains[0].policy = FW_T_DROP;
	chains[0].policy_slot = 100;
	chains[0].rules = rules[0];
	chains[0].nrules = n;
}

static uint32_t
active(void)
{
	uint32_t zero = 0, *c = cub_fake__elem(f, "c0", "cub_sw_fw", &zero, 0);

	ck_assert_ptr_nonnull(c);
	return *c;
}

/* The active copy holds the image of the current ruleset, entry for
 * entry. */
static void
check_copy(void)
{
	struct fw_image *img = NULL;
	char name[16], err[256];
	uint32_t c = active();

	ck_assert_int_eq(
	    fw_compile(chains, 1, NULL, &img, err, sizeof(err)), 0);
	snprintf(name, sizeof(name), "fw_addr%u", c);
	ck_assert_int_eq(cub_fake__count(f, "c0", name), (int)img->naddr);
	for (uint32_t i = 0; i < img->naddr; i++) {
		uint32_t *v =
		    cub_fake__elem(f, "c0", name, &img->addr[i].key, 0);

		ck_assert_ptr_nonnull(v);
		ck_assert_uint_eq(*v, img->addr[i].vid);
	}
	snprintf(name, sizeof(name), "fw_small%u", c);
	ck_assert_int_eq(cub_fake__count(f, "c0", name), (int)img->nsmall);
	snprintf(name, sizeof(name), "fw_vec%u", c);
	for (uint32_t i = 0; i < img->nvec; i++) {
		uint64_t *w = cub_fake__elem(f, "c0", name, &i, 0);

		ck_assert_ptr_nonnull(w);
		ck_assert_uint_eq(*w, img->vec[i]);
	}
	snprintf(name, sizeof(name), "fw_act%u", c);
	for (uint32_t i = 0; i < img->nact; i++) {
		struct fw_act *a = cub_fake__elem(f, "c0", name, &i, 0);

		ck_assert_ptr_nonnull(a);
		ck_assert_int_eq(memcmp(a, &img->act[i], sizeof(*a)), 0);
	}
	snprintf(name, sizeof(name), "fw_chain%u", c);
	{
		uint32_t zero = 0;
		struct fw_chain_meta *m =
		    cub_fake__elem(f, "c0", name, &zero, 0);

		ck_assert_ptr_nonnull(m);
		ck_assert_int_eq(memcmp(m, &img->chain[0], sizeof(*m)), 0);
	}
	fw_image_free(img);
}

static void
bump(uint32_t slot, uint64_t pkts)
{
	struct fw_cnt v = {pkts, pkts * 100};

	ck_assert_int_eq(
	    cub_fake__update(f, "c0", "fw_cnt", &slot, &v, 0, 1), 0);
}

START_TEST(apply_flips_and_counts)
{
	const uint32_t a[] = {1, 2}, b[] = {1, 7, 3}, c[] = {7};
	uint32_t c0;

	ruleset(1, a, 2);
	f = cub_fake__new(&plugin, 2);
	ck_assert_ptr_nonnull(f);
	ck_assert_msg(
	    !cub_fake__create(f, "c0", NULL), "create: %s", cub_fake__error(f));
	c0 = active();
	check_copy();
	/* Packets counted under ruleset a, and a stale count at slot 7. */
	bump(1, 5);
	bump(2, 6);
	bump(100, 9);
	bump(7, 42);

	ruleset(2, b, 3);
	ck_assert_msg(!cub_fake__cmd(f, "c0 set gen=1", NULL), "apply: %s",
	    cub_fake__error(f));
	ck_assert_uint_ne(active(), c0);
	check_copy();
	/* Slot 1 and the policy kept counting; 7 is new: zeroed. */
	ck_assert_uint_eq(read_pkts[0], 5);
	ck_assert_uint_eq(read_bytes[0], 500);
	ck_assert_uint_eq(read_pkts[1], 0);
	ck_assert_uint_eq(read_pkts[2], 9);

	/* Back to the first copy: emptied, so a's prefixes are gone. */
	bump(7, 3);
	ruleset(3, c, 1);
	ck_assert_msg(!cub_fake__cmd(f, "c0 set gen=2", NULL), "apply: %s",
	    cub_fake__error(f));
	ck_assert_uint_eq(active(), c0);
	check_copy();
	ck_assert_uint_eq(read_pkts[1], 3); /* 7 was in b: kept */

	/* A refused ruleset changes nothing. */
	rules[0][0].target = FW_T_JUMP;
	strcpy(rules[0][0].jump, "nosuch");
	ck_assert_int_lt(cub_fake__cmd(f, "c0 set gen=3", NULL), 0);
	ck_assert_ptr_nonnull(strstr(cub_fake__error(f),
	    "chain 'INPUT' rule 1: jump to a missing chain 'nosuch'"));
	ck_assert_uint_eq(active(), c0);
	rules[0][0].target = FW_T_ACCEPT;

	/* As root: the cube's program over the maps, as the model. */
	{
		struct fw_image *img = NULL;
		char err[256];
		struct fw_pkt p;
		uint8_t frame[14 + sizeof(p)];
		uint32_t ret = 0;
		struct fw_result res;
		int r;

		ck_assert_int_eq(
		    fw_compile(chains, 1, NULL, &img, err, sizeof(err)), 0);
		for (uint32_t i = 0; i < 2; i++) {
			memset(&p, 0, sizeof(p));
			p.ipv4 = 1;
			p.saddr = i ? 0xc6120301u : 0xc6120201u;
			p.proto = 6;
			memset(frame, 0, sizeof(frame));
			memcpy(frame + 14, &p, sizeof(p));
			r = cub_fake__test_run(f, "c0", "cub_ingress_tc", frame,
			    sizeof(frame), &ret);
			if (r == -EPERM)
				break;
			ck_assert_msg(
			    r == 0, "test_run: %d %s", r, cub_fake__error(f));
			ck_assert_int_eq(
			    fw_image_classify(img, 0, &p, NULL, NULL, &res), 0);
			ck_assert_uint_eq(
			    res.verdict, i ? FW_T_ACCEPT : FW_T_DROP);
			ck_assert_uint_eq(
			    ret, res.verdict == FW_T_ACCEPT ? 0 : 2);
		}
		fw_image_free(img);
	}
	cub_fake__free(f);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fw-apply");
	TCase *tc = tcase_create("apply");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, apply_flips_and_counts);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
