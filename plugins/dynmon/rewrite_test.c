// SPDX-License-Identifier: BSD-2-Clause
/*
 * dynmon's rewriter (rewrite.c): every construct of the dialect rewritten
 * and compiled with the tree's clang and flags, refusals naming the line,
 * and clang's messages on the user's line numbers.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "dmcc_config.h"
#include "rewrite.h"

static char *
rw(const char *code, char path, bool xdp, const char *const *swap,
    size_t nswap, char *err)
{
	struct dm_rw_opts o = {.path = path, .xdp = xdp, .swap = swap,
	    .nswap = nswap};
	char *out = NULL;
	int r = dm_rewrite(code, strlen(code), &o, &out, err, 512);

	ck_assert(r == 0 || r == -EINVAL);
	ck_assert((r == 0) == (out != NULL));
	return out;
}

/* clang on @unit with the helper's flags: exit status; its stderr in @msg. */
static int
compile(const char *unit, char *msg, size_t msglen)
{
	static const char *const flags[] = {DMCC_CLANG_FLAGS, NULL};
	char dir[] = "/tmp/dmrw.XXXXXX", src[64], obj[64], errf[64];
	char *argv[64];
	int n = 0, st, fd;
	size_t i, len;
	FILE *f;
	pid_t pid;

	ck_assert(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/u.c", dir);
	snprintf(obj, sizeof(obj), "%s/u.o", dir);
	snprintf(errf, sizeof(errf), "%s/err", dir);
	f = fopen(src, "w");
	ck_assert(f);
	fputs(unit, f);
	fclose(f);
	argv[n++] = (char *)DMCC_CLANG;
	for (i = 0; flags[i]; i++)
		argv[n++] = (char *)flags[i];
	argv[n++] = "-I" DM_PRELUDE_DIR;
	argv[n++] = "-I" DM_BPF_INC;
	argv[n++] = "-c";
	argv[n++] = src;
	argv[n++] = "-o";
	argv[n++] = obj;
	argv[n] = NULL;
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	ck_assert(waitpid(pid, &st, 0) == pid);
	msg[0] = 0;
	f = fopen(errf, "r");
	if (f) {
		len = fread(msg, 1, msglen - 1, f);
		msg[len] = 0;
		fclose(f);
	}
	unlink(src);
	unlink(obj);
	unlink(errf);
	rmdir(dir);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void
must_compile(const char *unit)
{
	static char msg[65536];

	if (compile(unit, msg, sizeof(msg)))
		ck_abort_msg("clang refused:\n%s\n--- unit:\n%s", msg, unit);
}

/* Every construct of the dialect in one path. */
static const char all_code[] =
    "#include <uapi/linux/ip.h>\n"			 /* 1 */
    "#include <linux/udp.h>\n"				 /* 2 */
    "/* PKT.lookup(&k) in a comment stays a comment */\n" /* 3 */
    "struct eth_hdr {\n"
    "\t__be64 dst : 48;\n"
    "\t__be64 src : 48;\n"
    "\t__be16 proto;\n"
    "} __attribute__((packed));\n"
    "struct five { __be32 saddr, daddr; __be16 sport, dport; __u8 proto; }"
    " __attribute__((packed));\n"
    "BPF_ARRAY(a1);\n"
    "BPF_ARRAY(a2, u32);\n"
    "BPF_ARRAY(a3, struct five, 4);\n"
    "BPF_HASH(h1);\n"
    "BPF_HASH(h2, struct five);\n"
    "BPF_HASH(h3, struct five, u64);\n"
    "BPF_HASH(h4, u32, u64, 16);\n"
    "BPF_PERCPU_ARRAY(pa, u64, 2);\n"
    "BPF_PERCPU_HASH(ph, u32);\n"
    "BPF_TABLE(\"hash\", u32, u64, t1, 8);\n"
    "BPF_TABLE(\"array\", int, u64, t2, 8);\n"
    "BPF_TABLE(\"percpu_array\", int, u64, t3, 8);\n"
    "BPF_TABLE(\"percpu_hash\", u32, u64, t4, 8);\n"
    "BPF_TABLE(\"lru_hash\", struct five, u64,\n"
    "          t5, 8);\n"
    "BPF_TABLE(\"lru_percpu_hash\", u32, u64, t6, 8);\n"
    "BPF_QUEUE(q, struct five, 8);\n"
    "BPF_STACK(st, u64, 8);\n"
    "static __always_inline int\n"
    "handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)\n"
    "{\n"
    "\tvoid *data = (void *)(long)ctx->data;\n"
    "\tvoid *data_end = (void *)(long)ctx->data_end;\n"
    "\tstruct ethhdr *eth = data;\n"
    "\tstruct iphdr *ip = data + sizeof(*eth);\n"
    "\tstruct udphdr *udp = (void *)(ip + 1);\n"
    "\tstruct five k = {};\n"
    "\tunsigned int key = 0;\n"
    "\tu64 one = 1, *v, out;\n"
    "\tchar c = '\"', *s = \"a1.lookup(&key) in a string\";\n"
    "\tif ((void *)(udp + 1) > data_end)\n"
    "\t\treturn RX_OK;\n"
    "\tif (eth->h_proto != htons(ETH_P_IP))\n"
    "\t\treturn RX_OK;\n"
    "\tk.saddr = ip->saddr;\n"
    "\tk.sport = udp->source;\n"
    "\tv = a1.lookup(&key);\n"
    "\tif (v)\n"
    "\t\t*v += md->packet_len;\n"
    "\ta2.update(&key, &key);\n"
    "\ta3.lookup(&key);\n"
    "\th1.insert(&one, &one);\n"
    "\th2.update(&k,\n"
    "\t    &one);\n"
    "\th3.lookup_or_try_init(&k, &one);\n"
    "\th4.delete(&key);\n"
    "\th4.increment(key);\n"
    "\tpa.increment(0, 2);\n"
    "\tph.atomic_increment(ip->saddr);\n"
    "\tt1.update(&key, &one, BPF_ANY);\n"
    "\tv = t2.lookup(&key);\n"
    "\tt3.increment(1);\n"
    "\tt4.lookup(&key);\n"
    "\tt5.delete(&k);\n"
    "\tt6.lookup_or_try_init(&key, &one);\n"
    "\tq.push(&k, 0);\n"
    "\tq.pop(&k);\n"
    "\tst.push(&one);\n"
    "\tst.peek(&out);\n"
    "\tv = bpf_map_lookup_elem(&a1, &key);\n"
    "\tpcn_log(ctx, LOG_INFO, \"%I:%P -> %c %s\", ip->saddr, udp->source,"
    " c, s[0]);\n"
    "\tif (v && *v > 100)\n"
    "\t\treturn RX_DROP;\n"
    "\treturn RX_OK;\n"
    "}\n";

START_TEST(all_constructs)
{
	char err[512], *u = rw(all_code, 'i', false, NULL, 0, err);

	ck_assert_msg(u, "%s", err);
	/* BCC's defaults */
	ck_assert_ptr_nonnull(strstr(u,
	    "struct dm_mt_i_a1 { __uint(type, BPF_MAP_TYPE_ARRAY); "
	    "__type(key, int); __type(value, u64); "
	    "__uint(max_entries, 10240); } i_a1 __attribute__((btf_decl_tag(\"dm_map:a1\"))) SEC(\".maps\")"));
	ck_assert_ptr_nonnull(strstr(u,
	    "__uint(type, BPF_MAP_TYPE_HASH); __type(key, u64); "
	    "__type(value, u64); __uint(max_entries, 10240); } i_h1"));
	ck_assert_ptr_nonnull(strstr(u,
	    "__type(key, struct five); __type(value, u64); "
	    "__uint(max_entries, 10240); } i_h2"));
	ck_assert_ptr_nonnull(strstr(u, "BPF_MAP_TYPE_LRU_PERCPU_HASH"));
	ck_assert_ptr_nonnull(strstr(u,
	    "{ __uint(type, BPF_MAP_TYPE_QUEUE); __type(value, struct five); "
	    "__uint(max_entries, 8); } i_q"));
	ck_assert_ptr_nonnull(strstr(u, "DM_LOOKUP_V(&i_a1, __typeof__(i_a1), (key))"));
	ck_assert_ptr_nonnull(strstr(u, "DM_UPDATE_VV(&i_h2"));
	ck_assert_ptr_nonnull(strstr(u, "DM_INCR(&i_pa, __typeof__(i_pa), (0), (2))"));
	ck_assert_ptr_nonnull(strstr(u, "DM_POP(&i_q, __typeof__(i_q), (&k))"));
	ck_assert_ptr_nonnull(strstr(u, "bpf_map_lookup_elem(&i_a1, &key)"));
	ck_assert_ptr_nonnull(strstr(u, "#include <linux/ip.h>"));
	/* comments and strings untouched */
	ck_assert_ptr_nonnull(strstr(u, "PKT.lookup(&k) in a comment"));
	ck_assert_ptr_nonnull(strstr(u, "\"a1.lookup(&key) in a string\""));
	ck_assert_ptr_nonnull(strstr(u, "DM_PATH_ENTRY(dm_i_rx_tc, __sk_buff"));
	must_compile(u);
	free(u);
	/* The same code as the egress path, and for XDP. */
	u = rw(all_code, 'e', false, NULL, 0, err);
	ck_assert_msg(u, "%s", err);
	ck_assert_ptr_nonnull(strstr(u, "} e_a1 __attribute__((btf_decl_tag(\"dm_map:a1\"))) SEC"));
	must_compile(u);
	free(u);
	u = rw(all_code, 'i', true, NULL, 0, err);
	ck_assert_msg(u, "%s", err);
	ck_assert_ptr_nonnull(strstr(u, "DM_PATH_ENTRY(dm_i_rx_xdp, xdp_md"));
	must_compile(u);
	free(u);
}
END_TEST

/* Each user line stays its line: line N of the code is line N of #line 1. */
START_TEST(lines_kept)
{
	char err[512], *u = rw(all_code, 'i', false, NULL, 0, err), *p;
	const char *q;
	int line = 0, want = 1;

	for (q = all_code; q < strstr(all_code, "\tst.peek(&out);"); q++)
		want += *q == '\n';

	ck_assert_msg(u, "%s", err);
	p = strstr(u, "#line 1 \"ingress\"\n");
	ck_assert_ptr_nonnull(p);
	p = strchr(p, '\n') + 1;
	for (line = 1; p && strncmp(p, "\tDM_PEEK(", 9); line++)
		p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(line, want);
	free(u);
}
END_TEST

START_TEST(plain_libbpf)
{
	static const char code[] =
	    "#include <linux/bpf.h>\n"
	    "#include <bpf/bpf_helpers.h>\n"
	    "struct {\n"
	    "\t__uint(type, BPF_MAP_TYPE_ARRAY);\n"
	    "\t__type(key, __u32);\n"
	    "\t__type(value, __u64);\n"
	    "\t__uint(max_entries, 1);\n"
	    "} counter SEC(\".maps\");\n"
	    "int handle_rx(struct __sk_buff *ctx, struct pkt_metadata *md)\n"
	    "{\n"
	    "\t__u64 *v = bpf_map_lookup_elem(&counter, &cub_zero_key);\n"
	    "\tif (v)\n"
	    "\t\t__sync_fetch_and_add(v, 1);\n"
	    "\treturn RX_OK;\n"
	    "}\n";
	char err[512], *u = rw(code, 'e', false, NULL, 0, err);

	ck_assert_msg(u, "%s", err);
	ck_assert_ptr_nonnull(strstr(u, "} e_counter __attribute__((btf_decl_tag(\"dm_map:counter\"))) SEC(\".maps\")"));
	ck_assert_ptr_nonnull(strstr(u, "bpf_map_lookup_elem(&e_counter,"));
	must_compile(u);
	free(u);
}
END_TEST

START_TEST(swap_sets)
{
	static const char code[] =
	    "BPF_ARRAY(pkts, u64, 4);\n"
	    "BPF_HASH(flows, u32, u64, 64);\n"
	    "BPF_ARRAY(other);\n"
	    "static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)\n"
	    "{\n"
	    "\tu32 k = 1;\n"
	    "\tu64 *v = pkts.lookup(&k);\n"
	    "\tif (v)\n"
	    "\t\t__sync_fetch_and_add(v, 1);\n"
	    "\tflows.increment(k);\n"
	    "\tother.increment(0);\n"
	    "\treturn RX_OK;\n"
	    "}\n";
	const char *const swap[] = {"flows", "pkts"};
	char err[512], *u = rw(code, 'e', false, swap, 2, err);

	ck_assert_msg(u, "%s", err);
	/* the k-th swap name is set e<k>: copies e<k>_c0/_c1, member e<k>__m */
	ck_assert_ptr_nonnull(strstr(u,
	    "struct dm_mt_e_flows { __uint(type, BPF_MAP_TYPE_HASH); "
	    "__type(key, u32); __type(value, u64); __uint(max_entries, 64); }"
	    " e0_c0 SEC(\".maps\"), e0_c1 SEC(\".maps\"); CUB_SWAP_SET(e0); "
	    "CUB_SWAP_MEMBER(e0, m, struct dm_mt_e_flows, 2) = "
	    "{ .values = { &e0_c0, &e0_c1 } };"));
	ck_assert_ptr_nonnull(strstr(u, " e1_c0 SEC(\".maps\"), e1_c1"));
	ck_assert_ptr_nonnull(strstr(u, "DM_LOOKUP_V(DM_SWAP(e1, 1), __typeof__(e1_c0), (k))"));
	ck_assert_ptr_nonnull(strstr(u, "DM_INCR(DM_SWAP(e0, 0)"));
	ck_assert_ptr_nonnull(strstr(u, "} e_other __attribute__((btf_decl_tag(\"dm_map:other\"))) SEC"));
	ck_assert_ptr_nonnull(strstr(u, "DM_FETCH(0, e0)DM_FETCH(1, e1))"));
	must_compile(u);
	free(u);
}
END_TEST

/* Names of up to 13 characters are kept; longer ones fit 15 (rewrite.h). */
START_TEST(long_names)
{
	static const char code[] =
	    "BPF_ARRAY(ABCDEFGHIJKLM, u64, 1);\n"
	    "BPF_ARRAY(NTP_PACKETS_COUNTER, u64, 1);\n"
	    "BPF_ARRAY(NTP_PACKETS_COUNTER2, u64, 1);\n"
	    "static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)\n"
	    "{\n\tNTP_PACKETS_COUNTER.increment(0);\n"
	    "\tNTP_PACKETS_COUNTER2.increment(0);\n\treturn RX_OK;\n}\n";
	char err[512], a[16], b[16], want[96], *u;

	dm_map_objname('i', "NTP_PACKETS_COUNTER", a);
	dm_map_objname('i', "NTP_PACKETS_COUNTER2", b);
	ck_assert_int_eq(strlen(a), 15);
	ck_assert_int_eq(strncmp(a, "i_NTP_PACK", 10), 0);
	ck_assert_str_ne(a, b);
	dm_map_objname('e', "ABCDEFGHIJKLM", want);
	ck_assert_str_eq(want, "e_ABCDEFGHIJKLM");
	u = rw(code, 'i', false, NULL, 0, err);
	ck_assert_msg(u, "%s", err);
	ck_assert_ptr_nonnull(strstr(u,
	    "} i_ABCDEFGHIJKLM "
	    "__attribute__((btf_decl_tag(\"dm_map:ABCDEFGHIJKLM\"))) SEC"));
	/* The hashed object name carries the whole name in its tag. */
	snprintf(want, sizeof(want), "} %s __attribute__((btf_decl_tag(", a);
	ck_assert_ptr_nonnull(strstr(u, want));
	ck_assert_ptr_nonnull(
	    strstr(u, "btf_decl_tag(\"dm_map:NTP_PACKETS_COUNTER\")"));
	snprintf(want, sizeof(want), "DM_INCR(&%s,", b);
	ck_assert_ptr_nonnull(strstr(u, want));
	must_compile(u);
	free(u);
}
END_TEST

struct bad {
	const char *code;
	const char *const *swap;
	size_t nswap;
	const char *want;
};

static const char *const nine[] = {"a", "b", "c", "d", "e", "f", "g", "h",
    "i"};
static const char *const one_a[] = {"a"};
static const char *const no_such[] = {"zz"};
#define HRX "int handle_rx(struct CTXTYPE *c, struct pkt_metadata *m)"

static const struct bad bads[] = {
    {"\n\nBPF_TABLE(\"trie\", u32, u64, t, 8);\n" HRX "{return 0;}", NULL, 0,
	"line 3: unknown map type \"trie\""},
    {"\nBPF_ARRAY(A123456789012345678901234567890123456789012345678901234567890123, u64, 1);\n" HRX "{return 0;}", NULL, 0,
	"line 2: map name 'A123456789012345...' is longer than 63 characters"},
    {"BPF_ARRAY(a);BPF_ARRAY(b);BPF_ARRAY(c);BPF_ARRAY(d);BPF_ARRAY(e);"
     "BPF_ARRAY(f);BPF_ARRAY(g);BPF_ARRAY(h);BPF_ARRAY(i);\n" HRX
     "{return 0;}",
	nine, 9, "line 1: 9 swap-on-read maps in one path (at most 8)"},
    {"BPF_ARRAY(a);\nint f(void)\n{\n\treturn 0;\n}\n", NULL, 0,
	"line 5: the code defines no handle_rx(ctx, md) function"},
    {"BPF_ARRAY(a);\n" HRX "\n{\n\ta.lookup(&x);\n", NULL, 0,
	"line 4: unbalanced '{' (end of code)"},
    {"BPF_ARRAY(a);\n" HRX "{\n\tchar *s = \"oops;\n}\n", NULL, 0,
	"line 3: unterminated string literal"},
    {"BPF_ARRAY(a);\n" HRX "{\n\tint k = 0;\n\ta.perf_submit(&k);\n}\n",
	NULL, 0, "line 4: unsupported map method 'perf_submit' of 'a'"},
    {"BPF_HASH_OF_MAPS(x, \"a\", 1);\n" HRX "{return 0;}", NULL, 0,
	"line 1: unsupported declaration BPF_HASH_OF_MAPS"},
    {"BPF_ARRAY(a);\n" HRX "{\n\tint k = 0;\n\tbpf_map_lookup_elem(&a, &k);\n"
     "return 0;}",
	one_a, 1,
	"line 4: swap-on-read map 'a' is used other than through its methods"},
    {"BPF_ARRAY(a);\n" HRX "{return 0;}", no_such, 1,
	"line 1: swap-on-read map 'zz' is not declared in the code"},
    {"BPF_QUEUE(q, u64, 4);\n" HRX "{\n\tu64 k;\n\tq.lookup(&k);\nreturn 0;}",
	NULL, 0, "line 4: q.lookup(): a queue or stack has only push"},
    {"BPF_ARRAY(a);\n" HRX "{\n\tint k;\n\ta.lookup(&k, 1);\nreturn 0;}",
	NULL, 0, "line 4: a.lookup() takes 1 argument, not 2"},
    {"BPF_ARRAY(a);\nBPF_HASH(a);\n" HRX "{return 0;}", NULL, 0,
	"line 2: map 'a' is declared twice"},
    {"BPF_TABLE(\"hash\", u32, u64, t);\n" HRX "{return 0;}", NULL, 0,
	"line 1: BPF_TABLE takes 5 arguments"},
    {"\n\n\tint x = \x01;\n" HRX "{return 0;}", NULL, 0,
	"line 3: unexpected character 0x01"},
};

START_TEST(refusals)
{
	const struct bad *b = &bads[_i];
	char err[512], *u = rw(b->code, 'i', false, b->swap, b->nswap, err);

	ck_assert_msg(!u, "accepted:\n%s", b->code);
	ck_assert_msg(strstr(err, b->want), "'%s' lacks '%s'", err, b->want);
}
END_TEST

/* A refusal found while emitting still refuses without an err buffer. */
START_TEST(refusal_without_err)
{
	static const char code[] = "BPF_ARRAY(a);\n" HRX
				   "{\n\tint k = 0;\n\ta.perf_submit(&k);\n}\n";
	struct dm_rw_opts o = {.path = 'i'};
	char *out = NULL;

	ck_assert_int_eq(dm_rewrite(code, strlen(code), &o, &out, NULL, 0),
	    -EINVAL);
	ck_assert_ptr_null(out);
}
END_TEST

/* A syntax error on user line 7 is reported by clang as line 7. */
START_TEST(line_mapping)
{
	static const char code[] = "BPF_ARRAY(c, u64, 1);\n"	    /* 1 */
				   "static int\n"		    /* 2 */
				   "handle_rx(struct CTXTYPE *ctx,\n" /* 3 */
				   "    struct pkt_metadata *md)\n"   /* 4 */
				   "{\n"			    /* 5 */
				   "\tu32 k = 0;\n"		    /* 6 */
				   "\tu64 *v = c.lookup(&k)\n"	    /* 7 */
				   "\tif (v) *v += 1;\n"	    /* 8 */
				   "\treturn RX_OK;\n"		    /* 9 */
				   "}\n";
	char err[512], msg[65536], *u = rw(code, 'e', false, NULL, 0, err);

	ck_assert_msg(u, "%s", err);
	ck_assert_int_ne(compile(u, msg, sizeof(msg)), 0);
	ck_assert_msg(strstr(msg, "egress:7:"), "no egress:7: in\n%s", msg);
	ck_assert_msg(!strstr(msg, "egress:8:"), "%s", msg);
	free(u);
}
END_TEST

static Suite *
rewrite_suite(void)
{
	Suite *s = suite_create("dynmon-rewrite");
	TCase *tc = tcase_create("rewrite");

	tcase_set_timeout(tc, 100);
	tcase_add_test(tc, all_constructs);
	tcase_add_test(tc, lines_kept);
	tcase_add_test(tc, plain_libbpf);
	tcase_add_test(tc, swap_sets);
	tcase_add_test(tc, long_names);
	tcase_add_loop_test(tc, refusals, 0, sizeof(bads) / sizeof(bads[0]));
	tcase_add_test(tc, line_mapping);
	tcase_add_test(tc, refusal_without_err);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cubi_check_run(rewrite_suite());
}
