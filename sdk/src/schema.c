// SPDX-License-Identifier: BSD-2-Clause
/*
 * Plugin side of service schemas: encode the static C tables a plugin
 * declares (struct cub_field) to the wire form the broker parses (see
 * sdk/src/tree.h for the shape).
 */
#include <errno.h>
#include <string.h>
#include <stdbool.h>
#include <stdint.h>

#include "cubicle/schema.h"
#include "cubicle/val.h"

/* Deeper than any schema the broker accepts: catches cyclic tables. */
#define TO_VAL_DEPTH_MAX (CUB_SCHEMA_DEPTH_MAX + 2)

static const char *const type_names[] = {
    [CUB_T_STR] = "string",
    [CUB_T_U32] = "u32",
    [CUB_T_U64] = "u64",
    [CUB_T_BOOL] = "bool",
    [CUB_T_ENUM] = "enum",
    [CUB_T_IPV4] = "ipv4",
    [CUB_T_IPV4_PREFIX] = "ipv4-prefix",
    [CUB_T_MAC] = "mac",
    [CUB_T_LIST] = "list",
    [CUB_T_CONTAINER] = "container",
    [CUB_T_U8] = "u8",
    [CUB_T_U16] = "u16",
    [CUB_T_IPV6] = "ipv6",
    [CUB_T_IPV6_PREFIX] = "ipv6-prefix",
    [CUB_T_IP] = "ip",
    [CUB_T_IP_PREFIX] = "ip-prefix",
    [CUB_T_PORT_RANGE] = "port-range",
    [CUB_T_ANY] = "any",
};

const char *
cub_ftype__name(enum cub_ftype t)
{
	if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
		return NULL;
	return type_names[t];
}

int
cub_ftype__parse(const char *name)
{
	size_t t;

	for (t = 1; name && t < sizeof(type_names) / sizeof(type_names[0]); t++)
		if (!strcmp(type_names[t], name))
			return (int)t;
	return -EINVAL;
}

static struct cub_val *fields_to_val(const struct cub_field *fields, int depth);

static struct cub_val *
actions_to_val(const struct cub_action *actions, int depth)
{
	struct cub_val *arr = cub_val__array();
	const struct cub_action *a;
	struct cub_val *m;

	for (a = actions; arr && a->name; a++) {
		m = cub_val__map();
		if (!m) {
			arr = cub_val__free(arr);
			break;
		}
		if (cub_val__set(m, "name", cub_val__str(a->name)) ||
		    cub_val__set(
			m, "help", cub_val__str(a->help ? a->help : "")) ||
		    (a->args && cub_val__set(m, "args",
				    fields_to_val(a->args, depth + 1)))) {
			cub_val__free(m);
			arr = cub_val__free(arr);
			break;
		}
		if (cub_val__push(arr, m))
			arr = cub_val__free(arr);
	}
	return arr;
}

/* The members issue 7 added (leaf-lists, references), when set. */
static int
field_ext_to_val(const struct cub_field *f, struct cub_val *m)
{
	if (f->max_items &&
	    cub_val__set(m, "max-items", cub_val__uint(f->max_items)))
		return -ENOMEM;
	if (f->ref && cub_val__set(m, "ref", cub_val__str(f->ref)))
		return -ENOMEM;
	return 0;
}

/* A counter binding: {map, key, key_field?, key_size, offset, width}. */
static struct cub_val *
counter_to_val(const struct cub_counter *c)
{
	struct cub_val *m = cub_val__map();

	if (!m)
		return NULL;
	if (cub_val__set(m, "map", cub_val__str(c->map ? c->map : "")) ||
	    cub_val__set(m, "key", cub_val__uint(c->key)) ||
	    (c->key_field &&
		cub_val__set(m, "key_field", cub_val__str(c->key_field))) ||
	    cub_val__set(m, "key_size", cub_val__uint(c->key_size)) ||
	    cub_val__set(m, "offset", cub_val__uint(c->offset)) ||
	    cub_val__set(m, "width", cub_val__uint(c->width)))
		return cub_val__free(m);
	return m;
}

static struct cub_val *
field_to_val(const struct cub_field *f, int depth)
{
	struct cub_val *m, *en;
	size_t i;

	if (!cub_ftype__name(f->type)) {
		errno = EINVAL;
		return NULL;
	}
	m = cub_val__map();
	if (!m)
		return NULL;
	if (cub_val__set(m, "name", cub_val__str(f->name)) ||
	    cub_val__set(m, "type", cub_val__str(type_names[f->type])) ||
	    cub_val__set(m, "flags", cub_val__uint(f->flags)) ||
	    cub_val__set(m, "help", cub_val__str(f->help ? f->help : "")) ||
	    cub_val__set(m, "min", cub_val__uint(f->min)) ||
	    cub_val__set(m, "max", cub_val__uint(f->max)))
		return cub_val__free(m);
	if (f->dflt && cub_val__set(m, "default", cub_val__str(f->dflt)))
		return cub_val__free(m);
	if (field_ext_to_val(f, m))
		return cub_val__free(m);
	if (f->enums) {
		en = cub_val__array();
		for (i = 0; en && f->enums[i]; i++)
			if (cub_val__push(en, cub_val__str(f->enums[i])))
				en = cub_val__free(en);
		if (cub_val__set(m, "enum", en))
			return cub_val__free(m);
	}
	if (f->children &&
	    cub_val__set(m, "children", fields_to_val(f->children, depth + 1)))
		return cub_val__free(m);
	if (f->actions &&
	    cub_val__set(m, "actions", actions_to_val(f->actions, depth)))
		return cub_val__free(m);
	if (f->counter &&
	    cub_val__set(m, "counter", counter_to_val(f->counter)))
		return cub_val__free(m);
	return m;
}

static struct cub_val *
fields_to_val(const struct cub_field *fields, int depth)
{
	const struct cub_field *f;
	struct cub_val *arr;

	if (depth > TO_VAL_DEPTH_MAX) {
		errno = ELOOP;
		return NULL;
	}
	arr = cub_val__array();
	for (f = fields; arr && f->name; f++)
		if (cub_val__push(arr, field_to_val(f, depth)))
			arr = cub_val__free(arr);
	return arr;
}

struct cub_val *
cub_schema__to_val(const struct cub_field *fields)
{
	if (!fields) {
		errno = EINVAL;
		return NULL;
	}
	return fields_to_val(fields, 1);
}

struct cub_val *
cub_schema__wire(
    const struct cub_field *fields, const struct cub_action *actions)
{
	struct cub_val *m, *f;

	if (!actions || !actions->name)
		return cub_schema__to_val(fields);
	if (!(f = cub_schema__to_val(fields)))
		return NULL;
	m = cub_val__map();
	if (!m || cub_val__set(m, "fields", f) ||
	    cub_val__set(m, "actions", actions_to_val(actions, 1))) {
		cub_val__free(m);
		return NULL;
	}
	return m;
}
