// SPDX-License-Identifier: BSD-2-Clause
/*
 * dynmon's map catalogue: the ".maps" DATASEC of an object's BTF read as
 * libbpf reads BTF-defined maps (struct members type, key, value,
 * key_size, value_size, max_entries as pointers to arrays whose length is
 * the value), without libbpf's loader: libelf's elf_memory() finds .BTF,
 * btf__new() parses it, nothing else touches the kernel or the disk.
 */
#include "catalog.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

/* Formats err (if given) and returns -EINVAL: the pieces' one refusal. */
int
dm_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* id past typedefs and modifiers (at most 64), or NULL. */
const struct btf_type *
dm_btf_resolve(const struct btf *btf, uint32_t id, uint32_t *res_id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	int guard = 0;

	while (t && (btf_is_mod(t) || btf_is_typedef(t)) && guard++ < 64) {
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	if (res_id)
		*res_id = id;
	return t && !btf_is_mod(t) && !btf_is_typedef(t) ? t : NULL;
}

/* __uint(x, N): int (*x)[N]. */
static int
member_uint(const struct btf *btf, const struct btf_member *m, uint32_t *out)
{
	const struct btf_type *t = dm_btf_resolve(btf, m->type, NULL);

	if (!t || !btf_is_ptr(t))
		return -1;
	t = dm_btf_resolve(btf, t->type, NULL);
	if (!t || !btf_is_array(t))
		return -1;
	*out = btf_array(t)->nelems;
	return 0;
}

/* __type(x, T): T *x; the id of T. */
static int
member_type(const struct btf *btf, const struct btf_member *m, uint32_t *out)
{
	const struct btf_type *t = dm_btf_resolve(btf, m->type, NULL);

	if (!t || !btf_is_ptr(t) || !t->type)
		return -1;
	*out = t->type;
	return 0;
}

static bool
map_type_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* The map types dynmon decodes: they need BTF for key and value. */
static bool
map_type_decoded(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
		return true;
	default:
		return false;
	}
}

/* "i3_c1" -> set "i3", copy 1. */
static bool
swap_copy_name(const char *name, char set[4], uint32_t *copy)
{
	if ((name[0] != 'i' && name[0] != 'e') || name[1] < '0' ||
	    name[1] > '0' + (int)DM_SWAP_MAX - 1 ||
	    strncmp(name + 2, "_c", 2) || name[4] < '0' || name[4] > '9' ||
	    name[5])
		return false;
	set[0] = name[0];
	set[1] = name[1];
	set[2] = 0;
	*copy = (uint32_t)(name[4] - '0');
	return true;
}

static void
name_map(struct dm_map *m)
{
	if (swap_copy_name(m->name, m->swap_set, &m->copy)) {
		m->path = m->name[0];
		return;
	}
	if ((m->name[0] == 'i' || m->name[0] == 'e') && m->name[1] == '_' &&
	    m->name[2]) {
		m->path = m->name[0];
		snprintf(m->user, sizeof(m->user), "%s", m->name + 2);
	}
}

static int
parse_map(const struct btf *btf, const struct btf_var_secinfo *vsi,
    struct dm_map *m, char *err, size_t errlen)
{
	const struct btf_type *var = btf__type_by_id(btf, vsi->type), *def;
	const struct btf_member *mem;
	const char *vname, *mname;
	uint32_t key_size = 0, value_size = 0;
	bool has_type = false;
	int i, n;
	__s64 sz;

	if (!var || !btf_is_var(var))
		return dm_fail(err, errlen,
		    ".maps entry of BTF id %u is not a variable", vsi->type);
	vname = btf__name_by_offset(btf, var->name_off);
	if (!vname || !*vname)
		return dm_fail(err, errlen,
		    ".maps variable of BTF id %u has no name", vsi->type);
	def = dm_btf_resolve(btf, var->type, NULL);
	if (!def || !btf_is_struct(def))
		return dm_fail(
		    err, errlen, "map '%s': definition is not a struct", vname);
	snprintf(m->name, sizeof(m->name), "%s", vname);
	mem = btf_members(def);
	n = btf_vlen(def);
	for (i = 0; i < n; i++, mem++) {
		mname = btf__name_by_offset(btf, mem->name_off);
		if (!mname)
			continue;
		if (!strcmp(mname, "type")) {
			if (member_uint(btf, mem, &m->type))
				goto bad;
			has_type = true;
		} else if (!strcmp(mname, "max_entries")) {
			if (member_uint(btf, mem, &m->max_entries))
				goto bad;
		} else if (!strcmp(mname, "key_size")) {
			if (member_uint(btf, mem, &key_size))
				goto bad;
		} else if (!strcmp(mname, "value_size")) {
			if (member_uint(btf, mem, &value_size))
				goto bad;
		} else if (!strcmp(mname, "key")) {
			if (member_type(btf, mem, &m->key_type_id))
				goto bad;
		} else if (!strcmp(mname, "value")) {
			if (member_type(btf, mem, &m->value_type_id))
				goto bad;
		}
		continue;
	bad:
		return dm_fail(err, errlen,
		    "map '%s': member '%s' is malformed", vname, mname);
	}
	if (!has_type)
		return dm_fail(err, errlen, "map '%s': no map type", vname);
	m->percpu = map_type_percpu(m->type);
	if (m->key_type_id) {
		sz = btf__resolve_size(btf, m->key_type_id);
		if (sz <= 0 || sz > UINT32_MAX ||
		    (key_size && key_size != (uint32_t)sz))
			return dm_fail(err, errlen,
			    "map '%s': key type of BTF id %u has no usable "
			    "size",
			    vname, m->key_type_id);
		key_size = (uint32_t)sz;
	}
	if (m->value_type_id) {
		sz = btf__resolve_size(btf, m->value_type_id);
		if (sz <= 0 || sz > UINT32_MAX ||
		    (value_size && value_size != (uint32_t)sz))
			return dm_fail(err, errlen,
			    "map '%s': value type of BTF id %u has no usable "
			    "size",
			    vname, m->value_type_id);
		value_size = (uint32_t)sz;
	}
	m->key_size = key_size;
	m->value_size = value_size;
	if (map_type_decoded(m->type)) {
		if (!m->value_type_id)
			return dm_fail(err, errlen,
			    "map '%s': no BTF value type (declare it with "
			    "__type(value, ...))",
			    vname);
		if (!m->key_type_id && m->type != BPF_MAP_TYPE_QUEUE &&
		    m->type != BPF_MAP_TYPE_STACK)
			return dm_fail(err, errlen,
			    "map '%s': no BTF key type (declare it with "
			    "__type(key, ...))",
			    vname);
	}
	name_map(m);
	return 0;
}

static int
find_btf(Elf *elf, Elf_Data **out, char *err, size_t errlen)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	const char *name;

	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx))
		return dm_fail(err, errlen, "object is not an ELF file: %s",
		    elf_errmsg(-1));
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			return dm_fail(err, errlen,
			    "object: bad section header: %s", elf_errmsg(-1));
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".BTF"))
			continue;
		if (sh.sh_type == SHT_NOBITS)
			break;
		*out = elf_getdata(scn, NULL);
		if (!*out || !(*out)->d_buf || !(*out)->d_size)
			return dm_fail(err, errlen,
			    "object: unreadable .BTF: %s", elf_errmsg(-1));
		return 0;
	}
	return dm_fail(err, errlen, "object has no .BTF section");
}

/*
 * The DM_MAP_TAG declaration tags on the .maps variables (vsi[i] is map
 * i's): at most one a map, and two may not name the same map.  Every
 * user map cubicle-dynmon-cc emits has one; a map without (an object made
 * by hand, the unit tests') is found by its object name.
 */
static int
read_tags(struct dm_catalog *cat, const struct btf_var_secinfo *vsi,
    char *err, size_t errlen)
{
	const size_t plen = strlen(DM_MAP_TAG);
	uint32_t id, nt = btf__type_cnt(cat->btf);
	const struct btf_type *t;
	const char *name;
	size_t i, j;

	for (id = 1; id < nt; id++) {
		t = btf__type_by_id(cat->btf, id);
		if (!t || !btf_is_decl_tag(t) ||
		    btf_decl_tag(t)->component_idx != -1)
			continue;
		name = btf__name_by_offset(cat->btf, t->name_off);
		if (!name || strncmp(name, DM_MAP_TAG, plen))
			continue;
		for (i = 0; i < cat->nmaps && vsi[i].type != t->type; i++)
			;
		if (i == cat->nmaps)
			continue; /* on something that is no map */
		if (cat->maps[i].full[0] ||
		    strlen(name + plen) > DM_FULL_NAME_MAX)
			return dm_fail(err, errlen,
			    "map '%s': more than one name tag, or one too "
			    "long",
			    cat->maps[i].name);
		snprintf(cat->maps[i].full, sizeof(cat->maps[i].full), "%s",
		    name + plen);
	}
	for (i = 0; i < cat->nmaps; i++) {
		const struct dm_map *m = &cat->maps[i];

		if (!m->path || m->swap_set[0] || !m->full[0])
			continue;
		for (j = 0; j < i; j++)
			if (cat->maps[j].path == m->path &&
			    !strcmp(cat->maps[j].full, m->full))
				return dm_fail(err, errlen,
				    "maps '%s' and '%s' are both tagged '%s'",
				    cat->maps[j].name, m->name, m->full);
	}
	return 0;
}

int
dm_catalog_open(const void *buf, size_t len, struct dm_catalog **out, char *err,
    size_t errlen)
{
	struct dm_catalog *cat;
	const struct btf_type *sec;
	const struct btf_var_secinfo *vsi;
	Elf_Data *data = NULL;
	Elf *elf = NULL;
	char *copy;
	int r, id, i, n;

	*out = NULL;
	if (!buf || !len || len > UINT32_MAX)
		return dm_fail(
		    err, errlen, "object: empty or too large (%zu bytes)", len);
	if (elf_version(EV_CURRENT) == EV_NONE)
		return dm_fail(err, errlen, "libelf: %s", elf_errmsg(-1));
	cat = calloc(1, sizeof(*cat));
	copy = malloc(len);
	if (!cat || !copy) {
		free(cat);
		free(copy);
		return -ENOMEM;
	}
	memcpy(copy, buf, len);
	elf = elf_memory(copy, len);
	if (!elf) {
		r = dm_fail(err, errlen, "object is not an ELF file: %s",
		    elf_errmsg(-1));
		goto out;
	}
	r = find_btf(elf, &data, err, errlen);
	if (r)
		goto out;
	cat->btf = btf__new(data->d_buf, (uint32_t)data->d_size);
	if (!cat->btf) {
		r = dm_fail(err, errlen, "object: .BTF does not parse (%s)",
		    strerror(errno));
		goto out;
	}
	r = 0;
	id = btf__find_by_name_kind(cat->btf, ".maps", BTF_KIND_DATASEC);
	if (id < 0)
		goto out; /* no maps */
	sec = btf__type_by_id(cat->btf, (uint32_t)id);
	n = btf_vlen(sec);
	if ((unsigned)n > DM_MAPS_MAX) {
		r = dm_fail(err, errlen, "object has %d maps, more than %u", n,
		    DM_MAPS_MAX);
		goto out;
	}
	cat->maps = calloc((size_t)n + 1, sizeof(*cat->maps));
	if (!cat->maps) {
		r = -ENOMEM;
		goto out;
	}
	vsi = btf_var_secinfos(sec);
	for (i = 0; i < n; i++, vsi++) {
		r = parse_map(cat->btf, vsi, &cat->maps[i], err, errlen);
		if (r)
			goto out;
		cat->nmaps++;
	}
	r = read_tags(cat, btf_var_secinfos(sec), err, errlen);
out:
	if (elf)
		elf_end(elf);
	free(copy);
	if (r) {
		dm_catalog_free(cat);
		return r;
	}
	*out = cat;
	return 0;
}

struct dm_catalog *
dm_catalog_free(struct dm_catalog *cat)
{
	if (!cat)
		return NULL;
	btf__free(cat->btf);
	free(cat->maps);
	free(cat);
	return NULL;
}

const struct dm_map *
dm_catalog_by_name(const struct dm_catalog *cat, const char *name)
{
	size_t i;

	for (i = 0; i < cat->nmaps; i++)
		if (!strcmp(cat->maps[i].name, name))
			return &cat->maps[i];
	errno = ENOENT;
	return NULL;
}

/* A C identifier of at most max characters. */
static bool
user_name_ok(const char *s, size_t max)
{
	size_t i;

	if (!s || !*s || strlen(s) > max ||
	    !(s[0] == '_' || ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')))
		return false;
	for (i = 1; s[i]; i++)
		if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
			((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')))
			return false;
	return true;
}

int
dm_catalog_bind_swap(struct dm_catalog *cat, char path,
    const char *const *names, size_t n, char *err, size_t errlen)
{
	char copy0[8];
	int p = path == 'i' ? 0 : path == 'e' ? 1 : -1;
	size_t k;

	if (p < 0)
		return dm_fail(
		    err, errlen, "swap: path '%c' is not 'i' or 'e'", path);
	if (n > DM_SWAP_MAX)
		return dm_fail(err, errlen,
		    "swap: %zu maps on path '%c', at most %u", n, path,
		    DM_SWAP_MAX);
	for (k = 0; k < n; k++) {
		if (!user_name_ok(names[k], DM_FULL_NAME_MAX))
			return dm_fail(err, errlen,
			    "swap: '%s' is not a map name (a C identifier of "
			    "at most %u characters)",
			    names[k] ? names[k] : "(null)", DM_FULL_NAME_MAX);
		snprintf(copy0, sizeof(copy0), "%c%zu_c0", path, k);
		if (!dm_catalog_by_name(cat, copy0))
			return dm_fail(err, errlen,
			    "swap: map '%s' has no swap set %c%zu in the "
			    "object",
			    names[k], path, k);
	}
	memset(cat->swap[p], 0, sizeof(cat->swap[p]));
	for (k = 0; k < n; k++)
		snprintf(
		    cat->swap[p][k], sizeof(cat->swap[p][k]), "%s", names[k]);
	/* The copies carry the user name of their set. */
	for (k = 0; k < cat->nmaps; k++) {
		struct dm_map *m = &cat->maps[k];

		if (m->path != path || !m->swap_set[0])
			continue;
		snprintf(m->full, sizeof(m->full), "%s",
		    cat->swap[p][m->swap_set[1] - '0']);
		snprintf(m->user, sizeof(m->user), "%.15s", m->full);
	}
	return 0;
}

const struct dm_map *
dm_catalog_find(const struct dm_catalog *cat, char path, const char *user_name)
{
	char name[32];
	int p = path == 'i' ? 0 : path == 'e' ? 1 : -1;
	size_t i;
	unsigned k;

	if (p < 0 || !user_name) {
		errno = ENOENT;
		return NULL;
	}
	if (user_name_ok(user_name, DM_FULL_NAME_MAX))
		for (k = 0; k < DM_SWAP_MAX; k++)
			if (!strcmp(cat->swap[p][k], user_name)) {
				snprintf(name, sizeof(name), "%c%u_c0", path,
				    k);
				return dm_catalog_by_name(cat, name);
			}
	/* By the user's whole name, as its tag has it (read_tags()): a
	 * name that is the object name of another (hashed) map finds
	 * nothing. */
	for (i = 0; i < cat->nmaps; i++)
		if (cat->maps[i].path == path && !cat->maps[i].swap_set[0] &&
		    !strcmp(cat->maps[i].full, user_name))
			return &cat->maps[i];
	/* An untagged map by its object name "<path>_<name>" (13
	 * characters at most: a tagged map's hashed name is never one). */
	if (user_name_ok(user_name, DM_USER_NAME_MAX)) {
		snprintf(name, sizeof(name), "%c_%s", path, user_name);
		for (i = 0; i < cat->nmaps; i++)
			if (!cat->maps[i].full[0] && !cat->maps[i].swap_set[0] &&
			    !strcmp(cat->maps[i].name, name))
				return &cat->maps[i];
	}
	errno = ENOENT;
	return NULL;
}

const struct dm_map *
dm_catalog_copy(
    const struct dm_catalog *cat, const struct dm_map *m, uint32_t copy)
{
	char name[16];

	if (!m->swap_set[0] || copy > 9) {
		errno = ENOENT;
		return copy == m->copy ? m : NULL;
	}
	snprintf(name, sizeof(name), "%s_c%u", m->swap_set, copy);
	return dm_catalog_by_name(cat, name);
}
