/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw-engine: the compiler (fw_compile.c) and the classifier's model
 * (fw_model.c) against the reference (fw_ref.c).  Hand-written cases for
 * each match kind, `!`, unions, fragments, each jump kind, RETURN in a
 * builtin, the depth limit and each refusal; then random rulesets (up to
 * 8192 rules in a chain) and random packets biased toward the rules'
 * values, compared on the verdict, the deciding slot and every counted
 * slot.  Prints (does not assert) an 8192-rule image's sizes.
 */
#include <check.h>

#include "check_run.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw_compile.h"
#include "fw_model.h"
#include "fw_ref.h"

#ifdef FW_TEST_BPF
/* fw-engine-bpf: every comparison also runs the BPF classifier
 * (bpf/fw_classify.bpf.h) over the image written into its maps. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fw_test.skel.h"

static struct fw_test *skel;
static struct fw_addr_key *old_addr;
static struct fw_small_key *old_small;
static uint32_t nold_addr, nold_small;
static uint32_t bpf_runs;

static void
batch(struct bpf_map *map, const void *values, uint32_t n)
{
	static uint32_t *keys;
	static uint32_t nkeys;
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	uint32_t count = n;

	if (!n)
		return;
	if (n > nkeys) {
		keys = realloc(keys, n * sizeof(*keys));
		ck_assert_ptr_nonnull(keys);
		for (uint32_t i = nkeys; i < n; i++)
			keys[i] = i;
		nkeys = n;
	}
	ck_assert_int_eq(
	    bpf_map_update_batch(bpf_map__fd(map), keys, values, &count, &o),
	    0);
	ck_assert_uint_eq(count, n);
}

/* Write img into copy 0 of the fw set (the index says 0). */
static void
bpf_load(const struct fw_image *img)
{
	int afd, sfd;

	if (!skel) {
		skel = fw_test__open_and_load();
		ck_assert_msg(skel, "fw_test: %s", strerror(errno));
	}
	afd = bpf_map__fd(skel->maps.fw_addr0);
	sfd = bpf_map__fd(skel->maps.fw_small0);
	for (uint32_t i = 0; i < nold_addr; i++)
		if (bpf_map_delete_elem(afd, &old_addr[i]))
			ck_abort_msg("delete: %s", strerror(errno));
	for (uint32_t i = 0; i < nold_small; i++)
		if (bpf_map_delete_elem(sfd, &old_small[i]))
			ck_abort_msg("delete: %s", strerror(errno));
	old_addr = realloc(old_addr, (img->naddr + 1) * sizeof(*old_addr));
	old_small = realloc(old_small, (img->nsmall + 1) * sizeof(*old_small));
	ck_assert(old_addr && old_small);
	for (uint32_t i = 0; i < img->naddr; i++) {
		if (bpf_map_update_elem(
			afd, &img->addr[i].key, &img->addr[i].vid, 0))
			ck_abort_msg("update: %s", strerror(errno));
		old_addr[i] = img->addr[i].key;
	}
	nold_addr = img->naddr;
	for (uint32_t i = 0; i < img->nsmall; i++) {
		if (bpf_map_update_elem(
			sfd, &img->small[i].key, &img->small[i].vid, 0))
			ck_abort_msg("update: %s", strerror(errno));
		old_small[i] = img->small[i].key;
	}
	nold_small = img->nsmall;
	batch(skel->maps.fw_vec0, img->vec, img->nvec);
	batch(skel->maps.fw_ival0, img->ival, img->nival);
	batch(skel->maps.fw_chain0, img->chain, img->nchains);
	batch(skel->maps.fw_act0, img->act, img->nact);
	batch(skel->maps.fw_logp0, img->logp, img->nlogp);
}

/* Run pkt through the BPF classifier from start: into a fw_result. */
static void
bpf_classify(uint32_t start, const struct fw_pkt *pkt, struct fw_result *r)
{
	uint8_t frame[14 + sizeof(*pkt)] = {0};
	struct fw_pkt p = *pkt;
	struct fw_res out;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
	    .data_size_in = sizeof(frame), .repeat = 1);
	uint32_t zero = 0;

	p.pad_[0] = (uint8_t)start;
	memcpy(frame + 14, &p, sizeof(p));
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.fw_test), &o) ||
	    o.retval != 0 ||
	    bpf_map_lookup_elem(
		bpf_map__fd(skel->maps.fw_test_out), &zero, &out))
		ck_abort_msg("BPF_PROG_TEST_RUN: %s, retval %u",
		    strerror(errno), o.retval);
	memset(r, 0, sizeof(*r));
	r->verdict = out.verdict;
	r->reject_with = out.reject_with;
	r->capped = out.capped;
	r->slot = out.slot;
	r->ncounted = out.ncounted;
	for (uint32_t i = 0; i < out.ncounted && i < FW_TRACE_MAX; i++)
		r->counted[i] = out.counted[i];
	r->nlog = out.nlog;
	for (uint32_t i = 0; i < out.nlog && i < FW_LOG_REQ_MAX; i++)
		r->log[i] = out.log_slot[i];
	bpf_runs++;
}

/* The BPF result against the model's (both bounded by the trace). */
static void
bpf_eq(const struct fw_result *b, const struct fw_result *m, const char *what)
{
	if (b->verdict != m->verdict || b->slot != m->slot ||
	    b->reject_with != m->reject_with || b->capped != m->capped ||
	    b->ncounted != m->ncounted || b->nlog != m->nlog)
		ck_abort_msg("%s: BPF verdict %u slot %u counted %u log %u "
			     "capped %u, model %u %u %u %u %u",
		    what, b->verdict, b->slot, b->ncounted, b->nlog, b->capped,
		    m->verdict, m->slot, m->ncounted, m->nlog, m->capped);
	for (uint32_t i = 0; i < b->ncounted && i < FW_TRACE_MAX; i++)
		if (b->counted[i] != m->counted[i])
			ck_abort_msg("%s: BPF counted[%u] %u, model %u", what,
			    i, b->counted[i], m->counted[i]);
	for (uint32_t i = 0; i < b->nlog && i < FW_LOG_REQ_MAX; i++)
		if (b->log[i] != m->log[i])
			ck_abort_msg("%s: BPF log[%u] %u, model %u", what, i,
			    b->log[i], m->log[i]);
}

static struct fw_result res_b;
#endif

/* ---- the environment: eight interfaces, two sets ---- */

static const char *const ifnames[] = {
    "eth0", "eth1", "eth2", "veth0", "veth1", "lo", "br0", "veth12"};
#define NIFS (sizeof(ifnames) / sizeof(ifnames[0]))

static int
fake_ifmatch(void *arg, const char *name, uint32_t *idx, uint32_t max)
{
	size_t len = strnlen(name, FW_IFNAME_MAX);
	bool wild = len && name[len - 1] == '+';
	uint32_t n = 0;

	(void)arg;
	for (uint32_t i = 0; i < NIFS; i++) {
		bool m = wild ? !strncmp(ifnames[i], name, len - 1)
			      : !strcmp(ifnames[i], name);

		if (m && n < max)
			idx[n] = i + 1;
		n += m;
	}
	return (int)n;
}

static int
fake_setid(void *arg, const char *name, uint32_t *id, uint32_t *type)
{
	(void)arg;
	*type = 0;
	if (!strcmp(name, "blk"))
		*id = 1;
	else if (!strcmp(name, "allow"))
		*id = 2;
	else
		return -ENOENT;
	return 0;
}

static const struct fw_env env = {fake_ifmatch, fake_setid, NULL};

/* Post-conditions: in the hand cases, the slots listed hold; at random, a
 * hash of the slot and the packet decides. */
static uint32_t post_true[8];
static bool post_random, post_table;

static bool
fake_post(void *arg, uint32_t slot, const struct fw_pkt *pkt)
{
	(void)arg;
	if (post_random) {
		uint32_t h =
		    (slot * 2654435761u) ^ (pkt->saddr * 40503u) ^ pkt->dport;

		return (h >> 7) & 1;
	}
	for (int i = 0; i < 8; i++)
		if (post_true[i] == slot)
			return true;
	return false;
}

/* ---- helpers ---- */

static uint32_t
ip(const char *s)
{
	struct in_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

static void
pfx(struct fw_addr_match *m, const char *s, uint8_t len)
{
	m->set = true;
	m->p[m->n].addr = ip(s);
	m->p[m->n].len = len;
	m->n++;
}

static void
ports(struct fw_port_match *m, uint16_t lo, uint16_t hi)
{
	m->set = true;
	m->r[m->n].lo = lo;
	m->r[m->n].hi = hi;
	m->n++;
}

static struct fw_pkt
mkpkt(const char *src, const char *dst, uint8_t proto, uint16_t sport,
    uint16_t dport)
{
	struct fw_pkt p;

	memset(&p, 0, sizeof(p));
	p.ipv4 = 1;
	p.saddr = ip(src);
	p.daddr = ip(dst);
	p.proto = proto;
	p.sport = sport;
	p.dport = dport;
	p.ct = FW_CT_NEW;
	p.src_type = FW_AT_UNICAST;
	p.dst_type = FW_AT_UNICAST | FW_AT_LOCAL;
	p.iif = 1;
	p.oif = 2;
	p.len = 100;
	return p;
}

static char errbuf[512];

/*
 * Compare without an assertion per field: Check's fork mode writes one
 * message per passed assertion, millions here.
 */
static void
result_eq(
    const struct fw_result *a, const struct fw_result *b, const char *what)
{
	uint32_t i;

	if (a->verdict != b->verdict || a->slot != b->slot ||
	    a->reject_with != b->reject_with || a->ncounted != b->ncounted ||
	    a->nlog != b->nlog || a->capped)
		ck_abort_msg("%s: verdict %u slot %u reject-with %u counted %u "
			     "logged %u capped %u; reference %u %u %u %u %u",
		    what, a->verdict, a->slot, a->reject_with, a->ncounted,
		    a->nlog, a->capped, b->verdict, b->slot, b->reject_with,
		    b->ncounted, b->nlog);
	for (i = 0; i < a->ncounted && i < FW_RES_COUNTED_MAX; i++)
		if (a->counted[i] != b->counted[i])
			ck_abort_msg("%s: counted[%u] %u, reference %u", what,
			    i, a->counted[i], b->counted[i]);
	for (i = 0; i < a->nlog && i < FW_RES_LOG_MAX; i++)
		if (a->log[i] != b->log[i])
			ck_abort_msg("%s: log[%u] %u, reference %u", what, i,
			    a->log[i], b->log[i]);
}

static struct fw_result res_m, res_r;
/* Images compile_ok() made, and the one in the BPF maps. */
static uint32_t img_gen;
#ifdef FW_TEST_BPF
static uint32_t loaded_gen = UINT32_MAX;
#endif

/* Classify with the model and the reference, assert they agree, return
 * the model's result. */
static const struct fw_result *
both(const struct fw_image *img, const struct fw_chain *ch, uint32_t n,
    uint32_t start, const struct fw_pkt *p)
{
	ck_assert_int_eq(
	    fw_image_classify(img, start, p, fake_post, NULL, &res_m), 0);
	ck_assert_int_eq(
	    fw_ref_classify(ch, n, start, &env, p, fake_post, NULL, &res_r), 0);
	char what[128];

	snprintf(what, sizeof(what),
	    "hand case (proto %u ports %u>%u frag %u icmp %u/%u)", p->proto,
	    p->sport, p->dport, p->frag, p->icmp_type, p->icmp_code);
	result_eq(&res_m, &res_r, what);
#ifdef FW_TEST_BPF
	/* The BPF side's post-condition is the random one's hash. */
	if (!post_table) {
		if (loaded_gen != img_gen) {
			bpf_load(img);
			loaded_gen = img_gen;
		}
		bpf_classify(start, p, &res_b);
		bpf_eq(&res_b, &res_m, what);
	}
#endif
	return &res_m;
}

static struct fw_image *
compile_ok(const struct fw_chain *ch, uint32_t n)
{
	struct fw_image *img = NULL;
	int r = fw_compile(ch, n, &env, &img, errbuf, sizeof(errbuf));

	ck_assert_msg(r == 0, "compile: %d %s", r, errbuf);
	img_gen++;
	return img;
}

static void
refused(const struct fw_chain *ch, uint32_t n, int err, const char *msg)
{
	struct fw_image *img = NULL;
	int r = fw_compile(ch, n, &env, &img, errbuf, sizeof(errbuf));

	ck_assert_msg(
	    r == err, "compile gave %d (%s), expected %d", r, errbuf, err);
	ck_assert_ptr_null(img);
	ck_assert_msg(
	    strstr(errbuf, msg), "error '%s' lacks '%s'", errbuf, msg);
}

static struct fw_rule rules[4][32];

static void
setup(void)
{
	for (int c = 0; c < 4; c++)
		for (int i = 0; i < 32; i++) {
			fw_rule_init(&rules[c][i]);
			rules[c][i].slot = (uint32_t)(c * 100 + i + 1);
		}
	memset(post_true, 0, sizeof(post_true));
	post_random = post_table = false;
}

static void
teardown(void)
{
}

/* INPUT (builtin, policy) with n rules of rules[0], then user chains. */
static struct fw_chain chs[4];

static void
chains(
    enum fw_target policy, uint32_t n0, uint32_t n1, uint32_t n2, uint32_t n3)
{
	static const char *const names[] = {"INPUT", "A", "B", "C"};
	uint32_t n[4] = {n0, n1, n2, n3};

	memset(chs, 0, sizeof(chs));
	for (int c = 0; c < 4; c++) {
		snprintf(chs[c].name, sizeof(chs[c].name), "%s", names[c]);
		chs[c].rules = rules[c];
		chs[c].nrules = n[c];
	}
	chs[0].builtin = true;
	chs[0].policy = policy;
	chs[0].policy_slot = 999;
}

/* ---- hand cases ---- */

START_TEST(ctz_matches_builtin)
{
	for (int i = 0; i < 64; i++) {
		ck_assert_uint_eq(fw_ctz64(1ull << i), (uint32_t)i);
		ck_assert_uint_eq(fw_ctz64(~0ull << i), (uint32_t)i);
		ck_assert_uint_eq(
		    fw_ctz64((1ull << i) | (1ull << 63)), (uint32_t)i);
	}
}
END_TEST

START_TEST(addresses_unions_negation)
{
	struct fw_image *img;
	struct fw_pkt p;

	/* 1: -s 198.18.0.0/16 -d 198.19.1.1 DROP */
	pfx(&rules[0][0].src, "198.18.0.0", 16);
	pfx(&rules[0][0].dst, "198.19.1.1", 32);
	rules[0][0].target = FW_T_DROP;
	/* 2: -m iprange --src-range 198.18.1.0-198.18.2.255 -j ACCEPT:
	 * a union of two prefixes, one inside rule 1's. */
	pfx(&rules[0][1].src, "198.18.1.0", 24);
	pfx(&rules[0][1].src, "198.18.2.0", 24);
	rules[0][1].target = FW_T_ACCEPT;
	/* 3: ! -s 198.19.0.0/16 -j REJECT --reject-with tcp-reset */
	pfx(&rules[0][2].src, "198.19.0.0", 16);
	rules[0][2].src.neg = true;
	rules[0][2].target = FW_T_REJECT;
	rules[0][2].reject_with = FW_REJ_TCP_RESET;
	/* 4: ! -d 198.19.0.0/17 (union with a host inside: still 0/17) */
	pfx(&rules[0][3].dst, "198.19.0.0", 17);
	pfx(&rules[0][3].dst, "198.19.0.7", 32);
	rules[0][3].dst.neg = true;
	rules[0][3].target = FW_T_DROP;
	chains(FW_T_ACCEPT, 4, 0, 0, 0);
	img = compile_ok(chs, 1);
	ck_assert_uint_ge(img->naddr, 2); /* 0/0 per dir at least */

	p = mkpkt("198.18.1.5", "198.19.1.1", 6, 1, 2);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 1);
	p = mkpkt("198.18.1.5", "198.19.1.2", 6, 1, 2);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 2);
	p = mkpkt("198.18.2.255", "198.19.1.2", 6, 1, 2);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 2);
	p = mkpkt("198.18.3.0", "198.19.1.2", 6, 1, 2);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 3);
	ck_assert_uint_eq(res_m.verdict, FW_T_REJECT);
	ck_assert_uint_eq(res_m.reject_with, FW_REJ_TCP_RESET);
	p = mkpkt("198.19.0.1", "198.19.0.7", 6, 1, 2);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	ck_assert_uint_eq(res_m.verdict, FW_T_ACCEPT);
	ck_assert_uint_eq(res_m.ncounted, 1); /* the policy */
	p = mkpkt("198.19.0.1", "198.19.128.7", 6, 1, 2);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 4);
	/* Not IPv4: not filtered. */
	p.ipv4 = 0;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->verdict, FW_T_ACCEPT);
	ck_assert_uint_eq(res_m.ncounted, 0);
	fw_image_free(img);
}
END_TEST

START_TEST(protocols_and_ports)
{
	struct fw_image *img;
	struct fw_pkt p;

	/* 1: -p tcp --dport 22 ACCEPT */
	rules[0][0].proto.set = true;
	rules[0][0].proto.proto = 6;
	ports(&rules[0][0].dport, 22, 22);
	rules[0][0].target = FW_T_ACCEPT;
	/* 2: -p udp -m multiport --dports 53,1000:2000 ! --sport 0:1023 */
	rules[0][1].proto.set = true;
	rules[0][1].proto.proto = 17;
	ports(&rules[0][1].dport, 53, 53);
	ports(&rules[0][1].dport, 1000, 2000);
	ports(&rules[0][1].sport, 0, 1023);
	rules[0][1].sport.neg = true;
	rules[0][1].target = FW_T_ACCEPT;
	/* 3: -p tcp -m multiport --ports 8080,9000:9001 DROP */
	rules[0][2].proto.set = true;
	rules[0][2].proto.proto = 6;
	rules[0][2].ports_either = true;
	ports(&rules[0][2].dport, 8080, 8080);
	ports(&rules[0][2].dport, 9000, 9001);
	rules[0][2].target = FW_T_DROP;
	/* 4: ! -p icmp --dport 65535 (up to the last port) REJECT */
	rules[0][3].proto.set = true;
	rules[0][3].proto.proto = 1;
	rules[0][3].proto.neg = true;
	ports(&rules[0][3].dport, 60000, 65535);
	rules[0][3].target = FW_T_REJECT;
	/* 5: -p all LOG; 6: -p all (no target): counted */
	rules[0][4].proto.set = true;
	rules[0][4].target = FW_T_LOG;
	rules[0][5].proto.set = true;
	chains(FW_T_DROP, 6, 0, 0, 0);
	img = compile_ok(chs, 1);

	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 5000, 22);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 1);
	p = mkpkt("198.18.0.1", "198.18.0.2", 17, 5000, 22);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	ck_assert_uint_eq(res_m.ncounted, 3); /* LOG, count, policy */
	ck_assert_uint_eq(res_m.counted[0], 5);
	ck_assert_uint_eq(res_m.counted[1], 6);
	ck_assert_uint_eq(res_m.nlog, 1);
	ck_assert_uint_eq(res_m.log[0], 5);
	p = mkpkt("198.18.0.1", "198.18.0.2", 17, 5000, 1500);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 2);
	p = mkpkt("198.18.0.1", "198.18.0.2", 17, 1023, 2000);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	p = mkpkt("198.18.0.1", "198.18.0.2", 17, 1024, 2001);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 9001, 80);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 3);
	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 80, 8080);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 3);
	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 8081, 8999);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	p = mkpkt("198.18.0.1", "198.18.0.2", 47, 0, 65535);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 4);
	p = mkpkt("198.18.0.1", "198.18.0.2", 1, 0, 65535);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	/* A later fragment: no port match holds, even negated. */
	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 5000, 22);
	p.frag = 1;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	p = mkpkt("198.18.0.1", "198.18.0.2", 17, 2000, 53);
	p.frag = 1;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	fw_image_free(img);
}
END_TEST

START_TEST(small_fields)
{
	struct fw_image *img;
	struct fw_pkt p;

	/* 1: --syn (SYN,RST,ACK,FIN SYN) ACCEPT */
	rules[0][0].tcpflags.set = true;
	rules[0][0].tcpflags.mask =
	    FW_TCP_SYN | FW_TCP_RST | FW_TCP_ACK | FW_TCP_FIN;
	rules[0][0].tcpflags.cmp = FW_TCP_SYN;
	rules[0][0].target = FW_T_ACCEPT;
	/* 2: --icmp-type 3/1 DROP; 3: --icmp-type 8 ACCEPT; 4: ! 0 */
	rules[0][1].icmp.set = true;
	rules[0][1].icmp.type = 3;
	rules[0][1].icmp.code = 1;
	rules[0][1].target = FW_T_DROP;
	rules[0][2].icmp.set = true;
	rules[0][2].icmp.type = 8;
	rules[0][2].target = FW_T_ACCEPT;
	rules[0][3].icmp.set = true;
	rules[0][3].icmp.type = 0;
	rules[0][3].icmp.neg = true;
	rules[0][3].proto.set = true;
	rules[0][3].proto.proto = 1;
	rules[0][3].target = FW_T_REJECT;
	/* 5: -i veth+ ! -o eth1 DROP */
	rules[0][4].iif.set = true;
	strcpy(rules[0][4].iif.name, "veth+");
	rules[0][4].oif.set = true;
	rules[0][4].oif.neg = true;
	strcpy(rules[0][4].oif.name, "eth1");
	rules[0][4].target = FW_T_DROP;
	/* 6: ctstate ESTABLISHED,RELATED ACCEPT */
	rules[0][5].ctstate.set = true;
	rules[0][5].ctstate.mask = FW_CT_ESTABLISHED | FW_CT_RELATED;
	rules[0][5].target = FW_T_ACCEPT;
	/* 7: ! --ctstate NEW DROP */
	rules[0][6].ctstate.set = true;
	rules[0][6].ctstate.neg = true;
	rules[0][6].ctstate.mask = FW_CT_NEW;
	rules[0][6].target = FW_T_DROP;
	/* 8: --src-type BROADCAST DROP; 9: ! --dst-type LOCAL REJECT */
	rules[0][7].srctype.set = true;
	rules[0][7].srctype.mask = FW_AT_BROADCAST;
	rules[0][7].target = FW_T_DROP;
	rules[0][8].dsttype.set = true;
	rules[0][8].dsttype.neg = true;
	rules[0][8].dsttype.mask = FW_AT_LOCAL;
	rules[0][8].target = FW_T_REJECT;
	/* 10: -i "" -o nosuch: no interface has that name */
	rules[0][9].iif.set = true;
	rules[0][9].oif.set = true;
	strcpy(rules[0][9].oif.name, "nosuch");
	rules[0][9].target = FW_T_DROP;
	chains(FW_T_ACCEPT, 10, 0, 0, 0);
	img = compile_ok(chs, 1);

	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 1, 2);
	p.tcp_flags = FW_TCP_SYN | FW_TCP_ECE;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 1);
	p.tcp_flags = FW_TCP_SYN | FW_TCP_ACK;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	p.frag = 1;
	p.tcp_flags = FW_TCP_SYN;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	p = mkpkt("198.18.0.1", "198.18.0.2", 1, 0, 0);
	p.icmp_type = 3;
	p.icmp_code = 1;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 2);
	p.icmp_code = 2;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 4);
	p.icmp_type = 8;
	p.icmp_code = 77;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 3);
	p.icmp_type = 0;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	p.icmp_type = 200;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 4);
	p.frag = 1; /* the negated ICMP match fails on a fragment */
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	p = mkpkt("198.18.0.1", "198.18.0.2", 17, 1, 2);
	p.iif = 4; /* veth0 */
	p.oif = 3;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 5);
	p.iif = 8; /* veth12 */
	p.oif = 2; /* eth1 */
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	p.iif = 1;
	p.oif = 5;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	p.ct = FW_CT_RELATED;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 6);
	p.ct = FW_CT_INVALID;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 7);
	p.ct = FW_CT_NEW;
	p.src_type = FW_AT_BROADCAST | FW_AT_UNICAST;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 8);
	p.src_type = FW_AT_UNICAST;
	p.dst_type = FW_AT_MULTICAST;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 9);
	fw_image_free(img);
}
END_TEST

START_TEST(jumps_gotos_returns)
{
	struct fw_image *img;
	struct fw_pkt p;

	/* INPUT: 1 -p tcp -j A; 2 -p udp -g B; 3 -p 47 -j RETURN;
	 *        4 -j LOG; 5 -p icmp -j ACCEPT; policy DROP */
	rules[0][0].proto.set = true;
	rules[0][0].proto.proto = 6;
	rules[0][0].target = FW_T_JUMP;
	strcpy(rules[0][0].jump, "A");
	rules[0][1].proto.set = true;
	rules[0][1].proto.proto = 17;
	rules[0][1].target = FW_T_GOTO;
	strcpy(rules[0][1].jump, "B");
	rules[0][2].proto.set = true;
	rules[0][2].proto.proto = 47;
	rules[0][2].target = FW_T_RETURN;
	rules[0][3].target = FW_T_LOG;
	strcpy(rules[0][3].log_prefix, "in: ");
	rules[0][4].proto.set = true;
	rules[0][4].proto.proto = 1;
	rules[0][4].target = FW_T_ACCEPT;
	/* A: 1 --dport 22 ACCEPT; 2 --dport 23 -g B; 3 --dport 24 RETURN;
	 *    4 --dport 25 -j C; (end) */
	ports(&rules[1][0].dport, 22, 22);
	rules[1][0].target = FW_T_ACCEPT;
	ports(&rules[1][1].dport, 23, 23);
	rules[1][1].target = FW_T_GOTO;
	strcpy(rules[1][1].jump, "B");
	ports(&rules[1][2].dport, 24, 24);
	rules[1][2].target = FW_T_RETURN;
	ports(&rules[1][3].dport, 25, 25);
	rules[1][3].target = FW_T_JUMP;
	strcpy(rules[1][3].jump, "C");
	/* B: 1 (count); 2 --sport 7 RETURN; 3 --sport 8 DROP */
	ports(&rules[2][1].sport, 7, 7);
	rules[2][1].target = FW_T_RETURN;
	ports(&rules[2][2].sport, 8, 8);
	rules[2][2].target = FW_T_DROP;
	/* C: 1 RETURN */
	rules[3][0].target = FW_T_RETURN;
	chains(FW_T_DROP, 5, 4, 3, 1);
	img = compile_ok(chs, 4);

	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 1, 22);
	ck_assert_uint_eq(both(img, chs, 4, 0, &p)->slot, 101);
	ck_assert_uint_eq(res_m.ncounted, 2); /* the jump, the ACCEPT */
	/* A's GOTO B, B's RETURN: back to INPUT after the jump to A. */
	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 7, 23);
	ck_assert_uint_eq(both(img, chs, 4, 0, &p)->slot, 999);
	ck_assert_uint_eq(res_m.ncounted, 6); /* 1 102 201 202 4 policy */
	ck_assert_uint_eq(res_m.counted[3], 202);
	ck_assert_uint_eq(res_m.counted[4], 4);
	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 8, 23);
	ck_assert_uint_eq(both(img, chs, 4, 0, &p)->slot, 203);
	/* A's RETURN and C's RETURN come back. */
	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 8, 24);
	ck_assert_uint_eq(both(img, chs, 4, 0, &p)->slot, 999);
	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 8, 25);
	ck_assert_uint_eq(both(img, chs, 4, 0, &p)->slot, 999);
	ck_assert_uint_eq(res_m.ncounted, 5); /* 1 104 301 4 policy */
	/* INPUT's GOTO B: B's RETURN (and its end) is INPUT's policy. */
	p = mkpkt("198.18.0.1", "198.18.0.2", 17, 7, 1);
	ck_assert_uint_eq(both(img, chs, 4, 0, &p)->slot, 999);
	ck_assert_uint_eq(res_m.ncounted, 4); /* 2 201 202 policy */
	p = mkpkt("198.18.0.1", "198.18.0.2", 17, 9, 1);
	ck_assert_uint_eq(both(img, chs, 4, 0, &p)->slot, 999);
	ck_assert_uint_eq(res_m.nlog, 0);
	/* RETURN in the builtin: its policy. */
	p = mkpkt("198.18.0.1", "198.18.0.2", 47, 9, 1);
	ck_assert_uint_eq(both(img, chs, 4, 0, &p)->slot, 999);
	ck_assert_uint_eq(res_m.ncounted, 2);
	p = mkpkt("198.18.0.1", "198.18.0.2", 1, 9, 1);
	ck_assert_uint_eq(both(img, chs, 4, 0, &p)->slot, 5);
	ck_assert_uint_eq(res_m.nlog, 1);
	ck_assert_uint_eq(img->nlogp, 1);
	ck_assert_str_eq(img->logp[img->act[3].logp].prefix, "in: ");
	fw_image_free(img);
}
END_TEST

START_TEST(post_conditions)
{
	struct fw_image *img;
	struct fw_pkt p;

	post_table = true;
	rules[0][0].mset.set = true;
	strcpy(rules[0][0].mset.name, "blk");
	rules[0][0].target = FW_T_DROP;
	rules[0][1].limit.set = true;
	rules[0][1].target = FW_T_ACCEPT;
	chains(FW_T_DROP, 2, 0, 0, 0);
	img = compile_ok(chs, 1);
	ck_assert_uint_eq(img->act[0].post, FW_POST_SET);
	ck_assert_uint_eq(img->act[0].set_id, 1);
	ck_assert_uint_eq(img->act[1].post, FW_POST_LIMIT);
	p = mkpkt("198.18.0.1", "198.18.0.2", 6, 1, 2);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	post_true[0] = 2;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 2);
	post_true[1] = 1;
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 1);
	fw_image_free(img);
}
END_TEST

/* user chains X0 .. X8, Xi jumps to Xi+1: from INPUT, n jumps deep. */
static struct fw_chain deep[12];
static struct fw_rule deep_rules[12];

static void
deep_chains(uint32_t n, enum fw_target kind)
{
	memset(deep, 0, sizeof(deep));
	for (uint32_t i = 0; i <= n; i++) {
		fw_rule_init(&deep_rules[i]);
		deep_rules[i].slot = i + 1;
		deep_rules[i].target = i < n ? kind : FW_T_ACCEPT;
		snprintf(deep_rules[i].jump, sizeof(deep_rules[i].jump), "X%u",
		    i + 1);
		snprintf(deep[i].name, sizeof(deep[i].name), "X%u", i);
		deep[i].rules = &deep_rules[i];
		deep[i].nrules = 1;
	}
	strcpy(deep[0].name, "INPUT");
	deep[0].builtin = true;
	deep[0].policy = FW_T_DROP;
	deep[0].policy_slot = 999;
}

START_TEST(depth_limit)
{
	struct fw_image *img;
	struct fw_pkt p = mkpkt("198.18.0.1", "198.18.0.2", 6, 1, 2);

	deep_chains(FW_MAX_JUMP_DEPTH, FW_T_JUMP);
	img = compile_ok(deep, FW_MAX_JUMP_DEPTH + 1);
	ck_assert_uint_eq(both(img, deep, FW_MAX_JUMP_DEPTH + 1, 0, &p)->slot,
	    FW_MAX_JUMP_DEPTH + 1);
	ck_assert_uint_eq(res_m.ncounted, FW_MAX_JUMP_DEPTH + 1);
	fw_image_free(img);
	deep_chains(FW_MAX_JUMP_DEPTH + 1, FW_T_JUMP);
	refused(deep, FW_MAX_JUMP_DEPTH + 2, -ELOOP,
	    "chain 'X8' rule 1: jump to 'X9' nests deeper than 8");
	/* GOTO pushes nothing: eleven deep is fine. */
	deep_chains(11, FW_T_GOTO);
	img = compile_ok(deep, 12);
	ck_assert_uint_eq(both(img, deep, 12, 0, &p)->slot, 12);
	fw_image_free(img);
}
END_TEST

START_TEST(refusals)
{
	static struct fw_rule big[FW_MAX_RULES + 1];

	rules[0][0].target = FW_T_JUMP;
	strcpy(rules[0][0].jump, "nosuch");
	chains(FW_T_DROP, 1, 0, 0, 0);
	refused(chs, 1, -ENOENT,
	    "chain 'INPUT' rule 1: jump to a missing chain 'nosuch'");

	setup();
	rules[0][1].target = FW_T_JUMP;
	strcpy(rules[0][1].jump, "A");
	rules[1][2].target = FW_T_GOTO;
	strcpy(rules[1][2].jump, "B");
	rules[2][0].target = FW_T_JUMP;
	strcpy(rules[2][0].jump, "A");
	chains(FW_T_DROP, 2, 3, 1, 0);
	refused(chs, 3, -ELOOP, "chain 'B' rule 1: jump to 'A' makes a loop");
	strcpy(rules[2][0].jump, "B");
	refused(chs, 3, -ELOOP, "chain 'B' rule 1: jump to 'B' makes a loop");
	strcpy(rules[2][0].jump, "INPUT");
	refused(chs, 3, -EINVAL,
	    "chain 'B' rule 1: jump to the builtin chain 'INPUT'");

	setup();
	rules[1][3].mset.set = true;
	strcpy(rules[1][3].mset.name, "nosuchset");
	chains(FW_T_DROP, 0, 4, 0, 0);
	refused(
	    chs, 2, -ENOENT, "chain 'A' rule 4: set 'nosuchset': no such set");

	setup();
	rules[0][2].ports_either = true;
	ports(&rules[0][2].dport, 80, 80);
	rules[0][2].dport.neg = true;
	chains(FW_T_DROP, 3, 0, 0, 0);
	refused(chs, 1, -EINVAL, "chain 'INPUT' rule 3: ! --ports");

	setup();
	ports(&rules[0][0].sport, 90, 80);
	chains(FW_T_DROP, 1, 0, 0, 0);
	refused(chs, 1, -EINVAL, "chain 'INPUT' rule 1: port range 90:80");

	setup();
	rules[0][1].slot = FW_MAX_SLOTS + 1;
	chains(FW_T_DROP, 2, 0, 0, 0);
	refused(chs, 1, -EINVAL, "chain 'INPUT' rule 2: counter slot 33025");
	chs[0].policy_slot = FW_MAX_SLOTS + 1;
	chs[0].nrules = 0;
	refused(chs, 1, -EINVAL, "chain 'INPUT': policy counter slot 33025");

	setup();
	chains(FW_T_RETURN, 1, 0, 0, 0);
	refused(chs, 1, -EINVAL, "chain 'INPUT': a builtin chain's policy");

	for (uint32_t i = 0; i <= FW_MAX_RULES; i++)
		fw_rule_init(&big[i]);
	chains(FW_T_DROP, 0, 0, 0, 0);
	chs[1].rules = big;
	chs[1].nrules = FW_MAX_RULES + 1;
	refused(chs, 2, -E2BIG,
	    "chain 'A' rule 8193: more than 8192 rules in a chain");
	chs[1].nrules = FW_MAX_RULES;
	fw_image_free(compile_ok(chs, 2));
}
END_TEST

/* Rules at every word boundary of an 8192-rule chain, each the only one
 * its packet matches: the scan's skips over empty words land on them. */
START_TEST(word_boundaries)
{
	static struct fw_rule big[FW_MAX_RULES];
	static const uint32_t at[] = {0, 1, 62, 63, 64, 65, 127, 128, 191, 255,
	    256, 319, 320, 447, 448, 511, 512, 575, 576, 1023, 1024, 4095, 4096,
	    8127, 8128, 8190, 8191};
	struct fw_image *img;
	struct fw_pkt p;

	for (uint32_t i = 0; i < FW_MAX_RULES; i++) {
		fw_rule_init(&big[i]);
		big[i].slot = i + 1;
		big[i].src.set = true;
		big[i].src.n = 1;
		big[i].src.p[0].addr = 0xc6120000u | i;
		big[i].src.p[0].len = 32;
		big[i].target = i % 2 ? FW_T_ACCEPT : FW_T_REJECT;
	}
	chains(FW_T_DROP, 0, 0, 0, 0);
	chs[0].rules = big;
	chs[0].nrules = FW_MAX_RULES;
	img = compile_ok(chs, 1);
	for (uint32_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		p = mkpkt("198.18.0.0", "198.18.0.2", 6, 1, 2);
		p.saddr = 0xc6120000u | at[k];
		ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, at[k] + 1);
	}
	p = mkpkt("198.19.0.0", "198.18.0.2", 6, 1, 2);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 999);
	fw_image_free(img);
}
END_TEST

/* Past FW_ITER_MAX steps the model drops the packet. */
START_TEST(iteration_cap)
{
	static struct fw_rule big[FW_MAX_RULES];
	struct fw_image *img;
	struct fw_pkt p = mkpkt("198.18.0.1", "198.18.0.2", 6, 1, 2);

	for (uint32_t i = 0; i < FW_MAX_RULES; i++) {
		fw_rule_init(&big[i]);
		big[i].slot = 1000 + i;
	}
	for (uint32_t i = 0; i < 10; i++) {
		rules[0][i].target = FW_T_JUMP;
		strcpy(rules[0][i].jump, "A");
	}
	chains(FW_T_ACCEPT, 10, 0, 0, 0);
	chs[1].rules = big;
	chs[1].nrules = FW_MAX_RULES;
	img = compile_ok(chs, 2);
	ck_assert_int_eq(
	    fw_ref_classify(chs, 2, 0, &env, &p, NULL, NULL, &res_r), 0);
	ck_assert_uint_eq(res_r.verdict, FW_T_ACCEPT);
	ck_assert_uint_eq(res_r.ncounted, 10 + 10 * FW_MAX_RULES + 1);
	ck_assert_int_eq(fw_image_classify(img, 0, &p, NULL, NULL, &res_m), 0);
	ck_assert_uint_eq(res_m.verdict, FW_T_DROP);
	ck_assert(res_m.capped);
#ifdef FW_TEST_BPF
	bpf_load(img);
	bpf_classify(0, &p, &res_b);
	ck_assert_uint_eq(res_b.verdict, FW_T_DROP);
	ck_assert(res_b.capped);
	ck_assert_uint_eq(res_b.ncounted, res_m.ncounted);
#endif
	fw_image_free(img);
}
END_TEST

#ifdef FW_TEST_BPF
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The object loads as the broker loads a service's (broker/bpfobj.c,
 * load_thread()): CAP_SYS_ADMIN and CAP_PERFMON out of the effective set,
 * so the verifier applies its unprivileged rules and Spectre barriers.
 * Then a packet runs through it.
 */
START_TEST(loads_hardened)
{
	struct __user_cap_header_struct hdr = {
	    .version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	struct fw_test *hard;
	struct fw_image *img;
	struct fw_pkt p = mkpkt("198.18.0.1", "198.18.0.2", 6, 1, 22);

	ck_assert_int_eq(syscall(SYS_capget, &hdr, data), 0);
	data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	data[CAP_PERFMON / 32].effective &= ~(1u << (CAP_PERFMON % 32));
	ck_assert_int_eq(syscall(SYS_capset, &hdr, data), 0);
	hard = fw_test__open_and_load();
	ck_assert_msg(hard, "hardened load: %s", strerror(errno));
	fw_test__destroy(hard);
	/* The test's own object, loaded the same way, classifies. */
	pfx(&rules[0][0].src, "198.18.0.0", 16);
	ports(&rules[0][0].dport, 22, 22);
	rules[0][0].target = FW_T_ACCEPT;
	chains(FW_T_DROP, 1, 0, 0, 0);
	img = compile_ok(chs, 1);
	ck_assert_uint_eq(both(img, chs, 1, 0, &p)->slot, 1);
	ck_assert_uint_eq(res_b.slot, 1);
	fw_image_free(img);
}
END_TEST
#endif

/* ---- random rulesets ---- */

static uint64_t rng;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static uint32_t
rn(uint32_t n)
{
	return n ? rnd() % n : 0;
}

#define NPOOL 48
static struct fw_pfx apool[NPOOL];
static uint16_t ppool[NPOOL];

static void
pools(void)
{
	for (int i = 0; i < NPOOL; i++) {
		uint8_t len = (uint8_t)(rn(4) ? 16 + rn(17) : rn(16));
		uint32_t a = rn(3) ? (0xc6120000u | rn(0x20000)) : rnd() << 8;

		apool[i].len = len;
		apool[i].addr = len ? a & ~0u << (32 - len) : 0;
		ppool[i] = (uint16_t)(rn(5) ? rn(1200) : rn(65536));
	}
	ppool[0] = 0;
	ppool[1] = 65535;
	ppool[2] = 65534; /* hi + 1 is the last port */
	ppool[3] = 1;
}

static void
rand_addr(struct fw_addr_match *m)
{
	m->set = true;
	m->neg = rn(5) == 0;
	m->n = (uint16_t)(rn(6) == 0 ? rn(4) : 1 + rn(2));
	for (uint32_t i = 0; i < m->n; i++) {
		struct fw_pfx p = apool[rn(NPOOL)];

		if (rn(3) == 0 && p.len < 32) { /* a sub-prefix */
			uint8_t len = (uint8_t)(p.len + 1 + rn(32 - p.len));

			p.addr |= rnd() & ~(p.len ? ~0u << (32 - p.len) : 0);
			p.addr &= ~0u << (32 - len);
			p.len = len;
		}
		m->p[i] = p;
	}
}

static void
rand_ports(struct fw_port_match *m, bool noneg)
{
	m->set = true;
	m->neg = !noneg && rn(5) == 0;
	m->n = (uint8_t)(1 + rn(3));
	for (uint32_t i = 0; i < m->n; i++) {
		uint32_t lo = ppool[rn(NPOOL)], hi = lo + (rn(2) ? 0 : rn(300));

		m->r[i].lo = (uint16_t)lo;
		m->r[i].hi = (uint16_t)(hi > 65535 ? 65535 : hi);
	}
}

static const char *const rifnames[] = {
    "eth0", "eth1", "veth+", "lo", "", "nosuch", "eth+"};
static const uint8_t protos[] = {6, 17, 1, 0, 47, 6, 17};
static const uint8_t itypes[] = {0, 3, 8, 11, 255, 3};

/* Slots: INPUT's rules 1..8192, the other chains' 1024 each after them,
 * the policies at PSLOT (all within FW_MAX_SLOTS). */
#define RSLOT(c, i) ((c) == 0 ? (i) + 1 : 8192 + (c)*1024 + (i) + 1)
#define PSLOT 30000
#define RCHAIN(slot) ((slot) <= 8192 ? 0 : ((slot)-8193) / 1024)
#define RINDEX(slot) ((slot) <= 8192 ? (slot)-1 : ((slot)-8193) % 1024)

static void
rand_rule(
    struct fw_rule *r, uint32_t c, uint32_t i, uint32_t nchains, uint32_t pct)
{
	fw_rule_init(r);
	r->slot = RSLOT(c, i);
	if (rn(100) < pct)
		rand_addr(&r->src);
	if (rn(100) < pct)
		rand_addr(&r->dst);
	if (rn(100) < pct) {
		r->proto.set = true;
		r->proto.neg = rn(6) == 0;
		r->proto.proto = protos[rn(sizeof(protos))];
	}
	if (rn(100) < pct)
		rand_ports(&r->sport, false);
	if (rn(100) < pct) {
		r->ports_either = rn(6) == 0 && !r->sport.set;
		rand_ports(&r->dport, r->ports_either);
	}
	if (rn(100) < pct / 2) {
		r->tcpflags.set = true;
		r->tcpflags.neg = rn(5) == 0;
		r->tcpflags.mask = (uint8_t)rnd();
		r->tcpflags.cmp = (uint8_t)(rnd() & r->tcpflags.mask);
	}
	if (rn(100) < pct / 2) {
		r->icmp.set = true;
		r->icmp.neg = rn(5) == 0;
		r->icmp.type = itypes[rn(sizeof(itypes))];
		r->icmp.code = (int16_t)(rn(2) ? -1 : (int)rn(4));
	}
	if (rn(100) < pct / 2) {
		r->iif.set = true;
		r->iif.neg = rn(4) == 0;
		strcpy(r->iif.name, rifnames[rn(7)]);
	}
	if (rn(100) < pct / 2) {
		r->oif.set = true;
		r->oif.neg = rn(4) == 0;
		strcpy(r->oif.name, rifnames[rn(7)]);
	}
	if (rn(100) < pct / 2) {
		r->ctstate.set = true;
		r->ctstate.neg = rn(4) == 0;
		r->ctstate.mask = (uint8_t)(1 + rn(31));
	}
	if (rn(100) < pct / 3) {
		r->srctype.set = true;
		r->srctype.neg = rn(4) == 0;
		r->srctype.mask = (uint8_t)(1 + rn(15));
	}
	if (rn(100) < pct / 3) {
		r->dsttype.set = true;
		r->dsttype.neg = rn(4) == 0;
		r->dsttype.mask = (uint8_t)(1 + rn(15));
	}
	if (rn(30) == 0) {
		r->mset.set = true;
		strcpy(r->mset.name, rn(2) ? "blk" : "allow");
	}
	if (rn(30) == 0)
		r->limit.set = true;
	switch (rn(20)) {
	case 0:
	case 1:
	case 2:
	case 3:
	case 4:
		r->target = FW_T_NONE;
		break;
	case 5:
		r->target = FW_T_LOG;
		snprintf(r->log_prefix, sizeof(r->log_prefix), "p%u", rn(5));
		break;
	case 6:
	case 7:
	case 8:
		r->target = FW_T_ACCEPT;
		break;
	case 9:
	case 10:
	case 11:
		r->target = FW_T_DROP;
		break;
	case 12:
		r->target = FW_T_REJECT;
		r->reject_with = (enum fw_reject_with)rn(8);
		break;
	case 13:
	case 14:
	case 15:
	case 16:
		/* User chains are 3.. nchains - 1; jump only forward. */
		if (c + 1 < nchains) {
			uint32_t lo = c < 3 ? 3 : c + 1;

			if (lo < nchains) {
				r->target = rn(3) ? FW_T_JUMP : FW_T_GOTO;
				snprintf(r->jump, sizeof(r->jump), "U%u",
				    lo + rn(nchains - lo));
				break;
			}
		}
		r->target = FW_T_ACCEPT;
		break;
	default:
		r->target = FW_T_RETURN;
		break;
	}
}

static uint32_t
in_pfx(const struct fw_pfx *p)
{
	uint32_t host = p->len == 32 ? 0 : rnd() & (~0u >> p->len);

	if (rn(4) == 0 && p->len < 32) /* an edge of the prefix */
		host = rn(2) ? 0 : ~0u >> p->len;
	return p->addr | host;
}

static uint16_t
near_port(const struct fw_port_match *m)
{
	uint32_t i = rn(m->n), v;

	switch (rn(5)) {
	case 0:
		v = m->r[i].lo - 1u;
		break;
	case 1:
		v = m->r[i].hi + 1u;
		break;
	case 2:
		v = m->r[i].lo;
		break;
	case 3:
		v = m->r[i].hi;
		break;
	default:
		v = m->r[i].lo + rn(m->r[i].hi - m->r[i].lo + 1u);
		break;
	}
	return (uint16_t)v;
}

static void
rand_pkt(struct fw_pkt *p, const struct fw_chain *ch, uint32_t nch, bool strong)
{
	const struct fw_chain *c = &ch[rn(nch)];
	const struct fw_rule *r;

	memset(p, 0, sizeof(*p));
	p->ipv4 = rn(40) != 0;
	p->saddr = rn(3) ? in_pfx(&apool[rn(NPOOL)]) : rnd();
	p->daddr = rn(3) ? in_pfx(&apool[rn(NPOOL)]) : rnd();
	p->proto = protos[rn(sizeof(protos))];
	p->sport = rn(2) ? ppool[rn(NPOOL)] : (uint16_t)rnd();
	p->dport = rn(2) ? ppool[rn(NPOOL)] : (uint16_t)rnd();
	p->tcp_flags = (uint8_t)rnd();
	p->icmp_type = itypes[rn(sizeof(itypes))];
	p->icmp_code = (uint8_t)rn(5);
	p->iif = rn(10);
	p->oif = rn(10);
	p->ct = rn(8) ? (uint8_t)(1u << rn(5)) : (uint8_t)rn(256);
	p->src_type = (uint8_t)rn(16);
	p->dst_type = (uint8_t)rn(16);
	p->frag = rn(12) == 0;
	p->len = 64 + rn(1400);
	if (!c->nrules)
		return;
	/* Toward one rule's values. */
	r = &c->rules[rn(c->nrules)];
	if (r->src.set && r->src.n && rn(4))
		p->saddr = in_pfx(&r->src.p[rn(r->src.n)]);
	if (r->dst.set && r->dst.n && rn(4))
		p->daddr = in_pfx(&r->dst.p[rn(r->dst.n)]);
	if (r->proto.set && r->proto.proto && rn(4))
		p->proto = r->proto.proto;
	if (r->sport.set && rn(4))
		p->sport = near_port(&r->sport);
	if (r->dport.set && rn(4)) {
		if (r->ports_either && rn(2))
			p->sport = near_port(&r->dport);
		else
			p->dport = near_port(&r->dport);
	}
	if (r->tcpflags.set && rn(2))
		p->tcp_flags = (uint8_t)((p->tcp_flags & ~r->tcpflags.mask) |
					 r->tcpflags.cmp);
	if (r->icmp.set && r->icmp.type != 255 && rn(4)) {
		p->icmp_type = r->icmp.type;
		if (r->icmp.code >= 0 && rn(2))
			p->icmp_code = (uint8_t)r->icmp.code;
	}
	if (r->ctstate.set && rn(2))
		p->ct = (uint8_t)(r->ctstate.mask & -r->ctstate.mask);
	if (!strong)
		return;
	/* Every field toward the rule, so rules deep in a long chain
	 * decide too. */
	if (r->tcpflags.set && !r->tcpflags.neg)
		p->tcp_flags = (uint8_t)((p->tcp_flags & ~r->tcpflags.mask) |
					 r->tcpflags.cmp);
	if (r->ctstate.set && !r->ctstate.neg)
		p->ct = (uint8_t)(r->ctstate.mask & -r->ctstate.mask);
	if (r->srctype.set && !r->srctype.neg)
		p->src_type = r->srctype.mask;
	if (r->dsttype.set && !r->dsttype.neg)
		p->dst_type = r->dsttype.mask;
	if (r->iif.set && !r->iif.neg && r->iif.name[0]) {
		uint32_t idx[NIFS];
		int n = fake_ifmatch(NULL, r->iif.name, idx, NIFS);

		if (n > 0)
			p->iif = idx[rn((uint32_t)n)];
	}
	if (r->oif.set && !r->oif.neg && r->oif.name[0]) {
		uint32_t idx[NIFS];
		int n = fake_ifmatch(NULL, r->oif.name, idx, NIFS);

		if (n > 0)
			p->oif = idx[rn((uint32_t)n)];
	}
	if (r->proto.set && !r->proto.neg && r->proto.proto)
		p->proto = r->proto.proto;
	if (r->src.set && !r->src.neg && r->src.n)
		p->saddr = in_pfx(&r->src.p[rn(r->src.n)]);
	if (r->dst.set && !r->dst.neg && r->dst.n)
		p->daddr = in_pfx(&r->dst.p[rn(r->dst.n)]);
}

struct rset {
	struct fw_chain ch[8];
	struct fw_rule *rules[8];
};

static void
rand_ruleset(struct rset *s, uint32_t nchains, uint32_t bigrules,
    uint32_t maxrules, uint32_t pct)
{
	memset(s->ch, 0, sizeof(s->ch));
	for (uint32_t c = 0; c < nchains; c++) {
		uint32_t n = c == 0 && bigrules ? bigrules : rn(maxrules + 1);

		s->rules[c] = calloc(n ? n : 1, sizeof(struct fw_rule));
		ck_assert_ptr_nonnull(s->rules[c]);
		for (uint32_t i = 0; i < n; i++)
			rand_rule(&s->rules[c][i], c, i, nchains, pct);
		if (c < 3) {
			static const char *const b[] = {
			    "INPUT", "FORWARD", "OUTPUT"};

			strcpy(s->ch[c].name, b[c]);
			s->ch[c].builtin = true;
			s->ch[c].policy = rn(2) ? FW_T_ACCEPT : FW_T_DROP;
			s->ch[c].policy_slot = PSLOT + c;
		} else {
			snprintf(
			    s->ch[c].name, sizeof(s->ch[c].name), "U%u", c);
		}
		s->ch[c].rules = s->rules[c];
		s->ch[c].nrules = n;
	}
}

static void
free_ruleset(struct rset *s, uint32_t nchains)
{
	for (uint32_t c = 0; c < nchains; c++)
		free(s->rules[c]);
}

/* What the random packets did, to show the comparison means something. */
static struct {
	uint32_t by_rule, by_policy, deep, counted, far;
} stats;

static uint32_t
compare_random(uint64_t seed, uint32_t nrulesets, uint32_t bigrules,
    uint32_t maxrules, uint32_t npkts, uint32_t pct)
{
	uint32_t compared = 0;

	post_random = true;
	memset(&stats, 0, sizeof(stats));
	for (uint32_t k = 0; k < nrulesets; k++) {
		uint64_t s0 = seed * 1000003u + k + 1;
		uint32_t nchains;
		struct rset s;
		struct fw_image *img = NULL;
		int r;

		rng = s0;
		pools();
		nchains = 3 + rn(6);
		rand_ruleset(
		    &s, nchains, bigrules, maxrules, pct ? pct : 10 + rn(40));
		r = fw_compile(
		    s.ch, nchains, &env, &img, errbuf, sizeof(errbuf));
		ck_assert_msg(r == 0, "seed %llu: compile: %s",
		    (unsigned long long)s0, errbuf);
#ifdef FW_TEST_BPF
		bpf_load(img);
#endif
		for (uint32_t i = 0; i < npkts; i++) {
			struct fw_pkt p;
			uint32_t start = pct && rn(4) ? 0 : rn(3);
			char what[96];

			rand_pkt(&p, s.ch, nchains, pct != 0 && rn(4));
			if (fw_image_classify(
				img, start, &p, fake_post, NULL, &res_m) ||
			    fw_ref_classify(s.ch, nchains, start, &env, &p,
				fake_post, NULL, &res_r))
				ck_abort_msg("seed %llu: classify failed",
				    (unsigned long long)s0);
			snprintf(what, sizeof(what),
			    "seed %llu ruleset %u packet %u",
			    (unsigned long long)s0, k, i);
			result_eq(&res_m, &res_r, what);
#ifdef FW_TEST_BPF
			/* One packet in three: a run is a syscall. */
			if (i % 3 == 0) {
				bpf_classify(start, &p, &res_b);
				bpf_eq(&res_b, &res_m, what);
			}
#endif
			compared++;
			if (!res_r.slot)
				continue; /* not IPv4 */
			if (res_r.slot >= PSLOT)
				stats.by_policy++;
			else
				stats.by_rule++;
			if (res_r.slot < PSLOT && RCHAIN(res_r.slot) >= 3)
				stats.deep++; /* decided in a user chain */
			if (res_r.slot < PSLOT &&
			    RINDEX(res_r.slot) > stats.far)
				stats.far = RINDEX(res_r.slot);
			stats.counted += res_r.ncounted;
		}
		fw_image_free(img);
		free_ruleset(&s, nchains);
	}
#ifdef FW_TEST_BPF
	printf("fw-engine-bpf: seed %llu: %u packets through the BPF "
	       "classifier agree\n",
	    (unsigned long long)seed, bpf_runs);
#endif
	return compared;
}

START_TEST(random_small)
{
	uint32_t n = compare_random(1 + (uint64_t)_i, 150, 0, 40, 200, 0);

	printf("fw-engine: seed %d: %u packets, small rulesets: ok (decided by "
	       "a rule %u, by a policy %u, in a user chain %u; %u counters, "
	       "deciding rule up to #%u)\n",
	    1 + _i, n, stats.by_rule, stats.by_policy, stats.deep,
	    stats.counted, stats.far);
}
END_TEST

START_TEST(random_medium)
{
	uint32_t n = compare_random(100 + (uint64_t)_i, 12, 0, 600, 500, 0);

	printf("fw-engine: seed %d: %u packets, up to 600 rules: ok (decided "
	       "by a rule %u, by a policy %u, in a user chain %u; %u counters, "
	       "deciding rule up to #%u)\n",
	    100 + _i, n, stats.by_rule, stats.by_policy, stats.deep,
	    stats.counted, stats.far);
}
END_TEST

START_TEST(random_8192)
{
	uint32_t n =
	    compare_random(1000 + (uint64_t)_i, 1, FW_MAX_RULES, 300, 3000, 70);

	printf("fw-engine: seed %d: %u packets, 8192 rules in INPUT: ok "
	       "(decided by a rule %u, by a policy %u, in a user chain %u; %u "
	       "counters, deciding rule up to #%u)\n",
	    1000 + _i, n, stats.by_rule, stats.by_policy, stats.deep,
	    stats.counted, stats.far);
}
END_TEST

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
print_sizes(const char *what, const struct fw_chain *ch, uint32_t n)
{
	struct fw_image *img = NULL;
	double t0 = now_s(), t1;
	int r = fw_compile(ch, n, &env, &img, errbuf, sizeof(errbuf));

	t1 = now_s();
	if (r) {
		printf("fw-engine: %s: refused in %.2f s: %s\n", what, t1 - t0,
		    errbuf);
		return;
	}
	printf("fw-engine: %s: compiled in %.2f s: %u vector words "
	       "(%.1f MiB), %u LPM entries, %u intervals, %u small keys, "
	       "%u actions; %.1f MiB of map entries; maps as declared "
	       "%.1f MiB per copy, %.1f MiB for a swap set of 2 copies "
	       "(per-cube limit 256 MiB)\n",
	    what, t1 - t0, img->nvec, img->nvec * 8.0 / 1048576, img->naddr,
	    img->nival, img->nsmall, img->nact,
	    (double)fw_image_bytes(img) / 1048576,
	    (double)fw_image_declared_bytes() / 1048576,
	    2.0 * (double)fw_image_declared_bytes() / 1048576);
	fw_image_free(img);
}

/* Sizes for 8192 rules, printed, not asserted. */
START_TEST(sizes_8192)
{
	static struct fw_rule big[FW_MAX_RULES];
	struct fw_chain ch = {.name = "INPUT",
	    .builtin = true,
	    .policy = FW_T_DROP,
	    .rules = big,
	    .nrules = FW_MAX_RULES};
	struct rset s;

	/* A typical large ruleset: a host and a port per rule. */
	rng = 7;
	for (uint32_t i = 0; i < FW_MAX_RULES; i++) {
		fw_rule_init(&big[i]);
		big[i].slot = i + 1;
		big[i].src.set = true;
		big[i].src.n = 1;
		big[i].src.p[0].addr = 0xc6120000u | i;
		big[i].src.p[0].len = 32;
		big[i].proto.set = true;
		big[i].proto.proto = 6;
		ports(&big[i].dport, (uint16_t)(1 + i % 512),
		    (uint16_t)(1 + i % 512));
		big[i].target = FW_T_ACCEPT;
	}
	print_sizes("8192 rules (-s host -p tcp --dport, 512 ports)", &ch, 1);
#ifdef FW_TEST_BPF
	{
		/* Time per packet, printed: the last rule, and no rule
		 * (all 128 words to the policy). */
		struct fw_image *img = compile_ok(&ch, 1);
		struct fw_pkt p[2] = {
		    mkpkt("198.18.31.255", "198.18.0.2", 6, 1, 512),
		    mkpkt("198.19.0.1", "198.18.0.2", 6, 1, 22),
		};
		uint8_t frame[14 + sizeof(p[0])] = {0};

		bpf_load(img);
		for (int k = 0; k < 2; k++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
			    .data_size_in = sizeof(frame), .repeat = 2000);

			bpf_classify(0, &p[k], &res_b);
			ck_assert_uint_eq(res_b.slot, k ? 0 : FW_MAX_RULES);
			memcpy(frame + 14, &p[k], sizeof(p[k]));
			ck_assert_int_eq(
			    bpf_prog_test_run_opts(
				bpf_program__fd(skel->progs.fw_test), &o),
			    0);
			printf("fw-engine-bpf: 8192 rules, %s: %u ns per "
			       "packet (BPF_PROG_TEST_RUN, 2000 runs)\n",
			    k ? "no rule matches (policy)"
			      : "the last rule matches",
			    o.duration);
		}
		fw_image_free(img);
	}
#endif
	/* The worst case: every rule its own prefixes and port ranges. */
	for (uint32_t i = 0; i < FW_MAX_RULES; i++) {
		fw_rule_init(&big[i]);
		big[i].slot = i + 1;
		big[i].src.set = big[i].dst.set = true;
		big[i].src.n = big[i].dst.n = 1;
		big[i].src.p[0].addr = rnd() & ~0xffu;
		big[i].src.p[0].len = 24;
		big[i].dst.p[0].addr = rnd();
		big[i].dst.p[0].len = 32;
		ports(&big[i].sport, (uint16_t)rn(60000),
		    (uint16_t)(60000 + rn(5000)));
		ports(&big[i].dport, (uint16_t)rn(60000),
		    (uint16_t)(60000 + rn(5000)));
		big[i].target = FW_T_DROP;
	}
	print_sizes(
	    "8192 rules, all distinct prefixes and port ranges", &ch, 1);
	/* The random test's 8192-rule ruleset. */
	rng = 1000 * 1000003u + 1;
	pools();
	rand_ruleset(&s, 3, FW_MAX_RULES, 0, 30);
	print_sizes("8192 random rules", s.ch, 3);
	free_ruleset(&s, 3);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fw-engine");
	TCase *tc = tcase_create("hand");
	TCase *tr = tcase_create("random");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ctz_matches_builtin);
	tcase_add_test(tc, addresses_unions_negation);
	tcase_add_test(tc, protocols_and_ports);
	tcase_add_test(tc, small_fields);
	tcase_add_test(tc, jumps_gotos_returns);
	tcase_add_test(tc, post_conditions);
	tcase_add_test(tc, depth_limit);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, iteration_cap);
	tcase_add_test(tc, word_boundaries);
#ifdef FW_TEST_BPF
	tcase_add_test(tc, loads_hardened);
#endif
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 120);
	tcase_add_loop_test(tr, random_small, 0, 4);
	tcase_add_loop_test(tr, random_medium, 0, 2);
	tcase_add_loop_test(tr, random_8192, 0, 2);
	tcase_add_test(tr, sizes_8192);
	suite_add_tcase(s, tr);
	return cubi_check_run(s);
}
