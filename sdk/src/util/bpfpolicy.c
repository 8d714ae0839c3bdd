// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policy tables of a cube's object, shared by the broker
 * (broker/bpfobj.c) and the fake broker (sdk/src/fake.c): bpfpolicy.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cubicle/cube_shared.h>

#include "bpfpolicy.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Helpers a network function may call; everything else is refused. */
static const int allowed_helpers[] = {
    BPF_FUNC_map_lookup_elem,
    BPF_FUNC_map_update_elem,
    BPF_FUNC_map_delete_elem,
    BPF_FUNC_ktime_get_ns,
    BPF_FUNC_get_prandom_u32,
    BPF_FUNC_get_smp_processor_id,
    BPF_FUNC_skb_store_bytes,
    BPF_FUNC_l3_csum_replace,
    BPF_FUNC_l4_csum_replace,
    BPF_FUNC_tail_call,
    BPF_FUNC_skb_vlan_push,
    BPF_FUNC_skb_vlan_pop,
    BPF_FUNC_skb_load_bytes,
    BPF_FUNC_csum_diff,
    BPF_FUNC_skb_change_proto,
    BPF_FUNC_skb_change_type,
    BPF_FUNC_get_hash_recalc,
    BPF_FUNC_skb_change_tail,
    BPF_FUNC_skb_pull_data,
    BPF_FUNC_csum_update,
    BPF_FUNC_set_hash_invalid,
    BPF_FUNC_get_numa_node_id,
    BPF_FUNC_skb_change_head,
    BPF_FUNC_xdp_adjust_head,
    BPF_FUNC_skb_adjust_room,
    BPF_FUNC_xdp_adjust_meta,
    BPF_FUNC_xdp_adjust_tail,
    BPF_FUNC_skb_load_bytes_relative,
    BPF_FUNC_map_push_elem,
    BPF_FUNC_map_pop_elem,
    BPF_FUNC_map_peek_elem,
    BPF_FUNC_spin_lock,
    BPF_FUNC_spin_unlock,
    BPF_FUNC_skb_ecn_set_ce,
    BPF_FUNC_jiffies64,
    BPF_FUNC_ktime_get_boot_ns,
    BPF_FUNC_ringbuf_output,
    BPF_FUNC_ringbuf_reserve,
    BPF_FUNC_ringbuf_submit,
    BPF_FUNC_ringbuf_discard,
    BPF_FUNC_ringbuf_query,
    BPF_FUNC_csum_level,
    BPF_FUNC_check_mtu,
    BPF_FUNC_for_each_map_elem,
    BPF_FUNC_loop,
    BPF_FUNC_xdp_get_buff_len,
    BPF_FUNC_xdp_load_bytes,
    BPF_FUNC_xdp_store_bytes,
    BPF_FUNC_map_lookup_percpu_elem,
};

/*
 * Helpers that send a packet to a netdev of the program's choosing (or,
 * fib_lookup, find one to send it to): a cube's way out is the broker's
 * egress program (cub_forward(), cube.bpf.h), never its own.
 */
static const int redirect_helpers[] = {
    BPF_FUNC_redirect,
    BPF_FUNC_redirect_map,
    BPF_FUNC_clone_redirect,
    BPF_FUNC_redirect_peer,
    BPF_FUNC_redirect_neigh,
    BPF_FUNC_fib_lookup,
};

/* Names of helpers a hostile object is likely to try, for messages. */
static const struct {
	int id;
	const char *name;
} helper_names[] = {
    {BPF_FUNC_redirect, "bpf_redirect"},
    {BPF_FUNC_redirect_map, "bpf_redirect_map"},
    {BPF_FUNC_clone_redirect, "bpf_clone_redirect"},
    {BPF_FUNC_redirect_peer, "bpf_redirect_peer"},
    {BPF_FUNC_redirect_neigh, "bpf_redirect_neigh"},
    {BPF_FUNC_fib_lookup, "bpf_fib_lookup"},
    {BPF_FUNC_probe_read, "bpf_probe_read"},
    {BPF_FUNC_trace_printk, "bpf_trace_printk"},
    {BPF_FUNC_get_current_pid_tgid, "bpf_get_current_pid_tgid"},
    {BPF_FUNC_get_current_task, "bpf_get_current_task"},
    {BPF_FUNC_probe_write_user, "bpf_probe_write_user"},
    {BPF_FUNC_probe_read_str, "bpf_probe_read_str"},
    {BPF_FUNC_override_return, "bpf_override_return"},
    {BPF_FUNC_send_signal, "bpf_send_signal"},
    {BPF_FUNC_probe_read_user, "bpf_probe_read_user"},
    {BPF_FUNC_probe_read_kernel, "bpf_probe_read_kernel"},
    {BPF_FUNC_probe_read_user_str, "bpf_probe_read_user_str"},
    {BPF_FUNC_probe_read_kernel_str, "bpf_probe_read_kernel_str"},
    {BPF_FUNC_d_path, "bpf_d_path"},
    {BPF_FUNC_copy_from_user, "bpf_copy_from_user"},
    {BPF_FUNC_snprintf_btf, "bpf_snprintf_btf"},
    {BPF_FUNC_sys_bpf, "bpf_sys_bpf"},
    {BPF_FUNC_kallsyms_lookup_name, "bpf_kallsyms_lookup_name"},
};

const char *
cubi_helper_name(int id)
{
	size_t i;

	for (i = 0; i < sizeof(helper_names) / sizeof(helper_names[0]); i++)
		if (helper_names[i].id == id)
			return helper_names[i].name;
	return "a helper";
}

bool
cubi_helper_redirects(int id)
{
	size_t i;

	for (i = 0; i < NELEM(redirect_helpers); i++)
		if (redirect_helpers[i] == id)
			return true;
	return false;
}

bool
cubi_helper_allowed(int id)
{
	size_t i;

	for (i = 0; i < NELEM(allowed_helpers); i++)
		if (allowed_helpers[i] == id)
			return true;
	return false;
}

/*
 * On the final instructions (the broker's check_final()) this covers
 * every function, and a kfunc call is marked BPF_PSEUDO_KFUNC_CALL;
 * before load libbpf holds it as a subprogram call (BPF_PSEUDO_CALL,
 * imm -1).  No kfunc is allowed yet: bpf_throw() ends a program with any
 * verdict, and the TC/XDP kfuncs (conntrack, XDP metadata) have no
 * allow-list.
 */
/*
 * Where the main function of insn[0..n) ends: the lowest target of a
 * subprogram call (BPF_PSEUDO_CALL) or of a callback's 64-bit load
 * (BPF_PSEUDO_FUNC), as the kernel splits a program into functions.
 */
static size_t
main_len(const struct bpf_insn *insn, size_t n)
{
	size_t i, end = n;
	int64_t t;

	for (i = 0; i < n; i++) {
		bool call = insn[i].code == (BPF_JMP | BPF_CALL) &&
			    insn[i].src_reg == BPF_PSEUDO_CALL;
		bool func = insn[i].code == (BPF_LD | BPF_IMM | BPF_DW) &&
			    insn[i].src_reg == BPF_PSEUDO_FUNC;

		/* imm -1: before load, a call libbpf relocates (into
		 * another section, or a kfunc): no target here yet. */
		if ((!call && !func) || insn[i].imm == -1)
			continue;
		t = (int64_t)i + insn[i].imm + 1;
		if (t > 0 && (size_t)t < end)
			end = (size_t)t;
	}
	return end;
}

/* Helpers that call back into the program: bpf_loop's callback runs up to
 * 8 Mi times, for_each_map_elem's once an entry. */
static bool
calls_back(int id)
{
	return id == BPF_FUNC_loop || id == BPF_FUNC_for_each_map_elem;
}

int
cubi_check_calls(const char *cube, const char *prog,
    const struct bpf_insn *insn, size_t n, char *msg, size_t len)
{
	size_t i, mlen = main_len(insn, n);

	for (i = 0; i < n; i++) {
		if (insn[i].code != (BPF_JMP | BPF_CALL))
			continue;
		if (i >= mlen && insn[i].src_reg == 0 &&
		    insn[i].imm == BPF_FUNC_tail_call) {
			/* A subprogram's tail call returns the verdict of
			 * what it called (the rest of a stack, a peer's
			 * chain) to its caller, which may then undo it. */
			snprintf(msg, len,
			    "cube '%s': program '%s' tail-calls at instruction "
			    "%zu, in a subprogram: a tail call (cub_pass_tc(), "
			    "cub_forward()) is allowed only in the main "
			    "function, whose verdict it then is",
			    cube, prog, i);
			return -EPERM;
		}
		if (i >= mlen && insn[i].src_reg == 0 &&
		    calls_back(insn[i].imm)) {
			/* In a callback (or a subprogram one may call) a
			 * loop nests: 8 Mi rounds times 8 Mi, a CPU held. */
			snprintf(msg, len,
			    "cube '%s': program '%s' calls %s at instruction "
			    "%zu, in a subprogram: a helper that calls back "
			    "is allowed only in the main function (loops may "
			    "not nest)",
			    cube, prog,
			    insn[i].imm == BPF_FUNC_loop ? "bpf_loop"
							 : "bpf_for_each_map_elem",
			    i);
			return -EPERM;
		}
		if (insn[i].src_reg == BPF_PSEUDO_CALL)
			continue; /* a call to a subprogram of the object */
		if (insn[i].src_reg == BPF_PSEUDO_KFUNC_CALL)
			snprintf(msg, len,
			    "cube '%s': program '%s' calls a kernel function "
			    "(kfunc) at instruction %zu, which is not allowed",
			    cube, prog, i);
		else if (insn[i].src_reg != 0)
			snprintf(msg, len,
			    "cube '%s': program '%s': call of unknown kind %u "
			    "at instruction %zu",
			    cube, prog, insn[i].src_reg, i);
		else if (cubi_helper_redirects(insn[i].imm))
			snprintf(msg, len,
			    "cube '%s': program '%s' calls %s (#%d) at "
			    "instruction %zu: cube programs may not redirect; "
			    "send packets out of a port with cub_forward() "
			    "(cube.bpf.h)",
			    cube, prog, cubi_helper_name(insn[i].imm),
			    insn[i].imm, i);
		else if (!cubi_helper_allowed(insn[i].imm))
			snprintf(msg, len,
			    "cube '%s': program '%s' calls %s (#%d) at "
			    "instruction %zu, which is outside the networking "
			    "set",
			    cube, prog, cubi_helper_name(insn[i].imm),
			    insn[i].imm, i);
		else
			continue;
		return -EPERM;
	}
	return 0;
}

/*
 * PROG_ARRAY and the map-in-map types stay declarable: only libbpf fills
 * them, in the broker, from the object's own programs and maps (static
 * initialisation).
 */
bool
cubi_map_type_broker_only(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_DEVMAP:
	case BPF_MAP_TYPE_DEVMAP_HASH:
	case BPF_MAP_TYPE_CPUMAP:
	case BPF_MAP_TYPE_XSKMAP:
	case BPF_MAP_TYPE_SOCKMAP:
	case BPF_MAP_TYPE_SOCKHASH:
		return true;
	default:
		return false;
	}
}

bool
cubi_map_type_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

/*
 * cub_ports is read-only to programs: the egress program redirects to
 * what it says; so is cub_config (the cube's loglevel).  A ring buffer
 * with max_entries set has that size exactly: cub_log_ring bounds what a
 * program can queue for the broker's log.  cub_egress and
 * cub_scratch_map are shared with the egress program, and so is
 * cub_flood_sel (flood_sel.bpf.h) for the cubes that declare it.
 */
const struct cubi_fw_map cubi_fw_maps[] = {
    {"cub_ports", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct cub_port), CUB_MAX_PORTS,
	BPF_F_RDONLY_PROG, false},
    {"cub_if2port", BPF_MAP_TYPE_HASH, 4, 4, CUB_MAX_PORTS, 0, false},
    {"cub_pktin", BPF_MAP_TYPE_RINGBUF, 0, 0, 0, 0, false},
    {"cub_config", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct cub_config), 1,
	BPF_F_RDONLY_PROG, false},
    {"cub_log_ring", BPF_MAP_TYPE_RINGBUF, 0, 0, CUB_LOG_RING_BYTES, 0, false},
    {"cub_egress", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, CUB_EGRESS_SLOTS, 0, false},
    {"cub_scratch_map", BPF_MAP_TYPE_PERCPU_ARRAY, 4,
	sizeof(struct cub_scratch), 1, 0, false},
    {"cub_flood_sel", BPF_MAP_TYPE_PERCPU_ARRAY, 4,
	sizeof(struct cub_flood_sel), 1, 0, true},
    {NULL, 0, 0, 0, 0, 0, false},
};

const struct cubi_fw_map *
cubi_fw_map_find(const char *name)
{
	const struct cubi_fw_map *f;

	for (f = cubi_fw_maps; f->name; f++)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}

bool
cubi_fw_map_ok(const struct cubi_fw_map *f, uint32_t type, uint32_t key_size,
    uint32_t value_size, uint32_t max_entries, uint32_t map_flags)
{
	return type == f->type && map_flags == f->map_flags &&
	       (!f->key_size ||
		   (key_size == f->key_size && value_size == f->value_size)) &&
	       (!f->max_entries || max_entries == f->max_entries);
}

static uint64_t
round8(uint64_t n)
{
	return (n + 7) & ~7ull;
}

static uint64_t
pow2_at_least(uint64_t n)
{
	uint64_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* The kernel's per-element overhead of a hash table or trie, rounded up. */
#define HASH_ELEM_OVERHEAD 64
#define HASH_BUCKET_BYTES 16
#define TRIE_NODE_OVERHEAD 64

uint64_t
cubi_map_bytes(uint32_t ncpus, uint32_t type, uint32_t key_size,
    uint32_t value_size, uint32_t max_entries)
{
	uint64_t value = round8(value_size), n = max_entries;

	if (type == BPF_MAP_TYPE_RINGBUF || type == BPF_MAP_TYPE_USER_RINGBUF)
		return n;
	if (cubi_map_type_percpu(type))
		value *= (uint64_t)ncpus;
	switch (type) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_HASH_OF_MAPS:
		/* Preallocated: max_entries + one a CPU, and the buckets. */
		return (HASH_ELEM_OVERHEAD + round8(key_size) + value +
			   (cubi_map_type_percpu(type) ? 8 : 0)) *
			   (n + (uint64_t)ncpus) +
		       HASH_BUCKET_BYTES * pow2_at_least(n);
	case BPF_MAP_TYPE_LPM_TRIE:
		return (TRIE_NODE_OVERHEAD + key_size + value) * n;
	default:
		return ((uint64_t)key_size + value) * n;
	}
}
