// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target: dynmon's catalogue, BTF decoder and families
 * (plugins/dynmon) on mutated BPF objects (seed: tests/dm_types.bpf.c's
 * object).  Every map and every BTF type of an object that opens is
 * decoded from bytes taken from the input, and every decodable map goes
 * through dm_map_value() and dm_families_from_metric().
 */
#include <linux/bpf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "btfval.h"
#include "catalog.h"
#include "families.h"

#define BYTES_MAX 65536u

static void
fill(uint8_t *p, size_t len, const uint8_t *d, size_t n)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = n ? d[(i * 31) % n] : 0;
}

static struct cub_val *
config(const char *type, bool hist)
{
	const char *s =
	    hist ? "{\"name\":\"m\",\"open-metrics-metadata\":"
		   "{\"help\":\"h\",\"type\":\"histogram\"},"
		   "\"histogram\":{\"kind\":\"exp2\",\"bucket-max\":1}}"
		 : NULL;
	char buf[160];

	if (!s) {
		snprintf(buf, sizeof(buf),
		    "{\"name\":\"m_total\",\"open-metrics-metadata\":{\"help\":"
		    "\"h\",\"type\":\"%s\",\"labels\":[{\"name\":\"l\","
		    "\"value\":\"v\"}]}}",
		    type);
		s = buf;
	}
	return cub_json_parse(s, strlen(s), NULL, 0);
}

static void
one_map(const struct dm_catalog *cat, const struct dm_map *m,
    struct dm_totals *t, const uint8_t *d, size_t n)
{
	uint32_t count = m->max_entries < 3 ? m->max_entries : 3, ncpus = 2;
	size_t vstride = dm_value_stride(m, ncpus);
	uint8_t *keys, *vals;
	struct dm_entries e;
	struct cub_val *v, *mc, *f;
	char err[256];
	int i;

	if (!m->value_size || m->value_size > BYTES_MAX ||
	    m->key_size > BYTES_MAX)
		return;
	keys = calloc(count ? count : 1, m->key_size ? m->key_size : 1);
	vals = calloc(count ? count : 1, vstride ? vstride : 1);
	if (!keys || !vals)
		goto out;
	fill(keys, (size_t)count * m->key_size, d, n);
	fill(vals, (size_t)count * vstride, d + n / 2, n - n / 2);
	e = (struct dm_entries){m->key_size ? keys : NULL, vals, count, ncpus};
	if (!dm_map_value(cat, m, &e, &v, err, sizeof(err)))
		cub_val__free(v);
	for (i = 0; i < 3; i++) {
		mc = config(i == 1 ? "gauge" : "counter", i == 2);
		if (mc && !dm_families_from_metric(
			      cat, m, mc, &e, &f, err, sizeof(err))) {
			dm_totals_add(t, f, true, err, sizeof(err));
			cub_val__free(f);
		}
		cub_val__free(mc);
	}
out:
	free(keys);
	free(vals);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct dm_catalog *cat;
	struct dm_totals *t;
	struct cub_val *v;
	uint8_t *buf;
	char err[256];
	uint32_t id, cnt;
	size_t i;
	__s64 sz;

	if (dm_catalog_open(d, n, &cat, err, sizeof(err)))
		return 0;
	buf = malloc(BYTES_MAX);
	t = dm_totals_new();
	cnt = btf__type_cnt(cat->btf);
	for (id = 0; buf && id < cnt && id < 4096; id++) {
		sz = btf__resolve_size(cat->btf, id);
		if (sz < 0 || sz > BYTES_MAX)
			sz = 8;
		fill(buf, (size_t)sz, d, n);
		if (!dm_decode(cat, id, buf, (size_t)sz, &v, err, sizeof(err)))
			cub_val__free(v);
	}
	for (i = 0; t && i < cat->nmaps; i++)
		one_map(cat, &cat->maps[i], t, d, n);
	if (t && !dm_totals_families(t, &v))
		cub_val__free(v);
	dm_totals_free(t);
	free(buf);
	dm_catalog_free(cat);
	return 0;
}
