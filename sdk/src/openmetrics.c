/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Metric families to OpenMetrics 1.0 or Prometheus 0.0.4 text
 * (cubicle/openmetrics.h).  One pass per family validates and writes into
 * a memory stream; the first invalid family discards everything.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/openmetrics.h"
#include "cubicle/val.h"
#include "util/text.h"

struct om {
	enum cub_om_format fmt;
	FILE *f;
	const struct cub_om_label *extra;
	size_t nextra;
	char *err;
	size_t errlen;
	const char *family;   /* name as given, for messages */
	struct cub_val *seen; /* map: sample names written so far */
};

static int __attribute__((format(printf, 2, 3)))
om_fail(struct om *om, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!om->err || !om->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (om->family)
		snprintf(om->err, om->errlen, "metric family '%.64s': %s",
		    om->family, msg);
	else
		snprintf(om->err, om->errlen, "%s", msg);
	return -EINVAL;
}

static bool
om_metric_name_ok(const char *s)
{
	size_t i;

	if (!s || !*s)
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_' || c == ':';

		if (!alpha && !(i && c >= '0' && c <= '9'))
			return false;
	}
	return i <= 200;
}

static bool
om_label_name_ok(const char *s)
{
	size_t i;

	if (!s || !*s || (s[0] == '_' && s[1] == '_'))
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_';

		if (!alpha && !(i && c >= '0' && c <= '9'))
			return false;
	}
	return i <= 200;
}

static bool
om_utf8_ok(const char *s, size_t n)
{
	size_t i = 0, l;

	while (i < n) {
		l = cubi_text_utf8_len((const unsigned char *)s + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

/*
 * Label values and (OpenMetrics) help: \\, \" and \n.  Prometheus help
 * escapes only \\ and \n.
 */
static void
om_escape(FILE *f, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '"' && quote)
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

/*
 * A double as Go's strconv.FormatFloat(d, 'g', -1, 64) writes it (the
 * shortest text that reads back the same, an exponent below 1e-4 and
 * from 1e6 up), with ".0" added to an integral value without exponent:
 * what client_golang writes for "le" and "quantile", and the canonical
 * form OpenMetrics asks for there.
 */
static void
om_canonical(char *buf, size_t len, double d)
{
	char tmp[32], mant[24], *e;
	const char *sign = d < 0 ? "-" : "", *p;
	int prec, exp10;
	size_t nm, ni, j = 0;

	if (isnan(d)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(buf, len, d > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(tmp, sizeof(tmp), "%.16e", d);
	/* tmp: [-]D[.DDD]e[+-]XX; mant: the digits without sign and dot. */
	e = strchr(tmp, 'e');
	exp10 = atoi(e + 1);
	*e = '\0';
	for (p = tmp + (*tmp == '-'); *p; p++)
		if (*p != '.')
			mant[j++] = *p;
	mant[j] = '\0';
	nm = j;
	if (exp10 < -4 || exp10 >= 6) {
		snprintf(buf, len, "%s%c%s%se%c%02d", sign, mant[0],
		    nm > 1 ? "." : "", mant + 1, exp10 < 0 ? '-' : '+',
		    abs(exp10));
	} else if (exp10 < 0) {
		/* 0.000ddd: -exp10 - 1 zeros after the dot. */
		snprintf(buf, len, "%s0.%.*s%s", sign, -exp10 - 1, "000", mant);
	} else if (nm <= (ni = (size_t)exp10 + 1)) {
		snprintf(buf, len, "%s%s%.*s.0", sign, mant, (int)(ni - nm),
		    "000000");
	} else {
		snprintf(buf, len, "%s%.*s.%s", sign, (int)ni, mant, mant + ni);
	}
}

/* A sample value: integers exactly, floats in the shortest exact form. */
static int
om_number(const struct cub_val *v, char *buf, size_t len, double *as_double)
{
	switch (v ? v->kind : CUB_V_NIL) {
	case CUB_V_UINT:
		snprintf(buf, len, "%" PRIu64, v->u);
		*as_double = (double)v->u;
		return 0;
	case CUB_V_INT:
		snprintf(buf, len, "%" PRId64, v->i);
		*as_double = (double)v->i;
		return 0;
	case CUB_V_FLOAT:
		om_canonical(buf, len, v->f);
		*as_double = v->f;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Records a sample name; refuses one another family already produced. */
static int
om_claim(struct om *om, const char *base, const char *suffix)
{
	char name[256];
	struct cub_val *t;

	snprintf(name, sizeof(name), "%s%s", base, suffix);
	if (cub_val__get(om->seen, name))
		return om_fail(om,
		    "its sample name '%s' is already taken "
		    "(a duplicate family or a clash with "
		    "another family's _total/_count/_sum/_bucket)",
		    name);
	t = cub_val__bool(true);
	if (!t || cub_val__set(om->seen, name, t) < 0)
		return -ENOMEM;
	return 0;
}

/*
 * Validates a sample's labels map (reserved: a name the type uses itself)
 * and returns its canonical key (sorted k=v, for duplicate detection).
 */
static int
om_labels_check(struct om *om, const struct cub_val *labels, size_t si,
    const char *reserved, char **key)
{
	char *buf = NULL;
	size_t blen = 0, i, j;
	uint32_t *order;
	FILE *f;
	int r = 0;

	*key = NULL;
	if (labels && labels->kind != CUB_V_MAP)
		return om_fail(om, "sample %zu: 'labels' is a %s, not a map",
		    si, cub_val__kind_name(labels->kind));
	if (!labels || !labels->map.len) {
		*key = strdup("");
		return *key ? 0 : -ENOMEM;
	}
	for (i = 0; i < labels->map.len; i++) {
		const char *k = labels->map.items[i].key;
		const struct cub_val *v = labels->map.items[i].val;

		if (!om_label_name_ok(k))
			return om_fail(
			    om, "sample %zu: bad label name '%.64s'", si, k);
		if (reserved && !strcmp(k, reserved))
			return om_fail(om,
			    "sample %zu: label '%s' is reserved for this type",
			    si, k);
		for (j = 0; j < om->nextra; j++)
			if (!strcmp(k, om->extra[j].name))
				return om_fail(om,
				    "sample %zu: label '%s' is also an added "
				    "label",
				    si, k);
		if (v->kind == CUB_V_STR) {
			if (!om_utf8_ok(v->str.ptr, v->str.len))
				return om_fail(om,
				    "sample %zu: label '%s' is not UTF-8", si,
				    k);
		} else if (v->kind != CUB_V_UINT && v->kind != CUB_V_INT) {
			return om_fail(om,
			    "sample %zu: label '%s' is a %s, not a string or "
			    "an "
			    "integer",
			    si, k, cub_val__kind_name(v->kind));
		}
	}
	order = calloc(labels->map.len, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (i = 0; i < labels->map.len; i++)
		order[i] = (uint32_t)i;
	/* Insertion sort by name: label sets are small. */
	for (i = 1; i < labels->map.len; i++)
		for (j = i; j > 0 && strcmp(labels->map.items[order[j - 1]].key,
					 labels->map.items[order[j]].key) > 0;
		     j--) {
			uint32_t t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	f = open_memstream(&buf, &blen);
	if (!f) {
		free(order);
		return -ENOMEM;
	}
	for (i = 0; i < labels->map.len && !r; i++) {
		const struct cub_kv *kv = &labels->map.items[order[i]];

		if (i && !strcmp(kv->key, labels->map.items[order[i - 1]].key))
			r = om_fail(om, "sample %zu: label '%s' appears twice",
			    si, kv->key);
		fprintf(f, "%s\x01", kv->key);
		if (kv->val->kind == CUB_V_STR)
			fputs(kv->val->str.ptr, f);
		else if (kv->val->kind == CUB_V_UINT)
			fprintf(f, "%" PRIu64, kv->val->u);
		else
			fprintf(f, "%" PRId64, kv->val->i);
		fputc('\x02', f);
	}
	free(order);
	if (fclose(f) != 0 && !r)
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		return r;
	}
	*key = buf;
	return 0;
}

/* {labels..., extra..., [lname="lval"]} or nothing when there are none. */
static void
om_labels_write(struct om *om, const struct cub_val *labels, const char *lname,
    const char *le)
{
	size_t i, n = 0;

	if (!(labels && labels->map.len) && !om->nextra && !le)
		return;
	fputc('{', om->f);
	for (i = 0; labels && i < labels->map.len; i++, n++) {
		const struct cub_val *v = labels->map.items[i].val;

		fprintf(
		    om->f, "%s%s=\"", n ? "," : "", labels->map.items[i].key);
		if (v->kind == CUB_V_STR)
			om_escape(om->f, v->str.ptr, true);
		else if (v->kind == CUB_V_UINT)
			fprintf(om->f, "%" PRIu64, v->u);
		else
			fprintf(om->f, "%" PRId64, v->i);
		fputc('"', om->f);
	}
	for (i = 0; i < om->nextra; i++, n++) {
		fprintf(om->f, "%s%s=\"", n ? "," : "", om->extra[i].name);
		om_escape(om->f, om->extra[i].value, true);
		fputc('"', om->f);
	}
	if (le)
		fprintf(om->f, "%s%s=\"%s\"", n ? "," : "", lname, le);
	fputc('}', om->f);
}

static int
om_key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

enum om_type { OM_COUNTER, OM_GAUGE, OM_HISTOGRAM, OM_SUMMARY, OM_UNKNOWN };

static const struct {
	const char *name, *om, *prom;
	const char *suffixes[4]; /* sample names the type produces */
} om_types[] = {
    [OM_COUNTER] = {"counter", "counter", "counter", {"_total"}},
    [OM_GAUGE] = {"gauge", "gauge", "gauge", {""}},
    [OM_HISTOGRAM] = {"histogram", "histogram", "histogram",
	{"_bucket", "_count", "_sum"}},
    [OM_SUMMARY] = {"summary", "summary", "summary", {"", "_count", "_sum"}},
    [OM_UNKNOWN] = {"unknown", "unknown", "untyped", {""}},
};

/* The buckets of one histogram sample, checked, then written. */
static int
om_histogram_sample(
    struct om *om, const char *name, const struct cub_val *s, size_t si)
{
	const struct cub_val *labels = cub_val__get(s, "labels");
	const struct cub_val *buckets = cub_val__get(s, "buckets");
	const struct cub_val *sum = cub_val__get(s, "sum");
	uint64_t count, prev = 0, c;
	double le_prev = -INFINITY, le, sumd;
	char lebuf[64], sumbuf[64];
	uint32_t i;

	if (!buckets || buckets->kind != CUB_V_ARRAY || !buckets->arr.len)
		return om_fail(om,
		    "sample %zu: 'buckets' must be a non-empty "
		    "list",
		    si);
	if (cub_val__as_u64(cub_val__get(s, "count"), &count) < 0)
		return om_fail(om,
		    "sample %zu: 'count' must be a non-negative "
		    "integer",
		    si);
	if (om_number(sum, sumbuf, sizeof(sumbuf), &sumd) < 0 || isnan(sumd))
		return om_fail(om, "sample %zu: 'sum' must be a number", si);
	for (i = 0; i < buckets->arr.len; i++) {
		const struct cub_val *b = buckets->arr.items[i];
		const struct cub_val *lev = cub_val__get(b, "le");
		const char *les = cub_val__as_str(lev);

		if (les && !strcmp(les, "+Inf"))
			le = INFINITY;
		else if (om_number(lev, lebuf, sizeof(lebuf), &le) < 0 ||
			 isnan(le))
			return om_fail(om,
			    "sample %zu, bucket %u: 'le' must be a "
			    "number or \"+Inf\"",
			    si, i);
		if (le < 0)
			return om_fail(om,
			    "sample %zu, bucket %u: a negative "
			    "'le' is not supported",
			    si, i);
		if (le <= le_prev)
			return om_fail(om,
			    "sample %zu, bucket %u: 'le' values "
			    "must increase",
			    si, i);
		if (cub_val__as_u64(cub_val__get(b, "count"), &c) < 0)
			return om_fail(om,
			    "sample %zu, bucket %u: 'count' must be "
			    "a non-negative integer",
			    si, i);
		if (c < prev)
			return om_fail(om,
			    "sample %zu, bucket %u: counts must be "
			    "cumulative (never decrease)",
			    si, i);
		le_prev = le;
		prev = c;
	}
	if (!isinf(le_prev))
		return om_fail(om,
		    "sample %zu: the last bucket must be "
		    "le=\"+Inf\"",
		    si);
	if (prev != count)
		return om_fail(om,
		    "sample %zu: 'count' %" PRIu64 " differs from "
		    "the +Inf bucket's %" PRIu64,
		    si, count, prev);
	for (i = 0; i < buckets->arr.len; i++) {
		const struct cub_val *b = buckets->arr.items[i];
		const struct cub_val *lev = cub_val__get(b, "le");

		if (lev->kind == CUB_V_STR)
			snprintf(lebuf, sizeof(lebuf), "+Inf");
		else
			om_canonical(lebuf, sizeof(lebuf),
			    lev->kind == CUB_V_UINT  ? (double)lev->u
			    : lev->kind == CUB_V_INT ? (double)lev->i
						     : lev->f);
		cub_val__as_u64(cub_val__get(b, "count"), &c);
		fprintf(om->f, "%s_bucket", name);
		om_labels_write(om, labels, "le", lebuf);
		fprintf(om->f, " %" PRIu64 "\n", c);
	}
	fprintf(om->f, "%s_count", name);
	om_labels_write(om, labels, NULL, NULL);
	fprintf(om->f, " %" PRIu64 "\n", count);
	fprintf(om->f, "%s_sum", name);
	om_labels_write(om, labels, NULL, NULL);
	fprintf(om->f, " %s\n", sumbuf);
	return 0;
}

/* Summary: optional quantiles [{quantile, value}], then count and sum. */
static int
om_summary_sample(
    struct om *om, const char *name, const struct cub_val *s, size_t si)
{
	const struct cub_val *labels = cub_val__get(s, "labels");
	const struct cub_val *qs = cub_val__get(s, "quantiles");
	char qbuf[64], vbuf[64], sumbuf[64];
	double q, v, sumd;
	uint64_t count;
	uint32_t i;

	if (qs && qs->kind != CUB_V_ARRAY)
		return om_fail(
		    om, "sample %zu: 'quantiles' must be a list", si);
	if (cub_val__as_u64(cub_val__get(s, "count"), &count) < 0)
		return om_fail(om,
		    "sample %zu: 'count' must be a non-negative "
		    "integer",
		    si);
	if (om_number(cub_val__get(s, "sum"), sumbuf, sizeof(sumbuf), &sumd) <
	    0)
		return om_fail(om, "sample %zu: 'sum' must be a number", si);
	for (i = 0; qs && i < qs->arr.len; i++) {
		const struct cub_val *e = qs->arr.items[i];

		if (om_number(cub_val__get(e, "quantile"), qbuf, sizeof(qbuf),
			&q) < 0 ||
		    !(q >= 0 && q <= 1))
			return om_fail(om,
			    "sample %zu, quantile %u: 'quantile' "
			    "must be a number in [0, 1]",
			    si, i);
		if (om_number(
			cub_val__get(e, "value"), vbuf, sizeof(vbuf), &v) < 0 ||
		    v < 0)
			return om_fail(om,
			    "sample %zu, quantile %u: 'value' must "
			    "be a non-negative number",
			    si, i);
	}
	for (i = 0; qs && i < qs->arr.len; i++) {
		const struct cub_val *e = qs->arr.items[i];
		om_number(cub_val__get(e, "quantile"), qbuf, sizeof(qbuf), &q);
		om_canonical(qbuf, sizeof(qbuf), q);
		om_number(cub_val__get(e, "value"), vbuf, sizeof(vbuf), &v);
		fprintf(om->f, "%s", name);
		om_labels_write(om, labels, "quantile", qbuf);
		fprintf(om->f, " %s\n", vbuf);
	}
	fprintf(om->f, "%s_count", name);
	om_labels_write(om, labels, NULL, NULL);
	fprintf(om->f, " %" PRIu64 "\n", count);
	fprintf(om->f, "%s_sum", name);
	om_labels_write(om, labels, NULL, NULL);
	fprintf(om->f, " %s\n", sumbuf);
	return 0;
}

static int
om_family(struct om *om, const struct cub_val *fam, size_t fi)
{
	const char *given, *help, *type, *unit;
	const struct cub_val *samples;
	char name[208], **keys = NULL;
	enum om_type t;
	size_t i, nkeys = 0;
	int r = 0;

	om->family = NULL;
	if (!fam || fam->kind != CUB_V_MAP)
		return om_fail(om, "family %zu is a %s, not a map", fi,
		    fam ? cub_val__kind_name(fam->kind) : "nothing");
	given = cub_val__get_str(fam, "name");
	if (!given)
		return om_fail(om, "family %zu has no 'name' string", fi);
	om->family = given;
	if (!om_metric_name_ok(given))
		return om_fail(
		    om, "bad metric name (want [a-zA-Z_:][a-zA-Z0-9_:]*)");
	type = cub_val__get(fam, "type") ? cub_val__get_str(fam, "type")
					 : "unknown";
	for (t = OM_COUNTER; t <= OM_UNKNOWN; t++)
		if (type && !strcmp(type, om_types[t].name))
			break;
	if (t > OM_UNKNOWN)
		return om_fail(om,
		    "unknown type '%.32s' (want counter, gauge, "
		    "histogram, summary or unknown)",
		    type ? type : "(not a string)");
	help = cub_val__get_str(fam, "help");
	if (cub_val__get(fam, "help") && !help)
		return om_fail(om, "'help' is not a string");
	if (help && !om_utf8_ok(help, strlen(help)))
		return om_fail(om, "'help' is not UTF-8");
	unit = cub_val__get_str(fam, "unit");
	if (cub_val__get(fam, "unit") && !unit)
		return om_fail(om, "'unit' is not a string");
	snprintf(name, sizeof(name), "%s", given);
	if (t == OM_COUNTER && strlen(name) > 6 &&
	    !strcmp(name + strlen(name) - 6, "_total"))
		name[strlen(name) - 6] = '\0';
	if (unit && *unit) {
		size_t nl = strlen(name), ul = strlen(unit);

		if (!om_label_name_ok(unit) || ul + 1 >= nl ||
		    name[nl - ul - 1] != '_' || strcmp(name + nl - ul, unit))
			return om_fail(om,
			    "unit '%.32s': the name must end "
			    "with '_%.32s'",
			    unit, unit);
	}
	samples = cub_val__get(fam, "samples");
	if (samples && samples->kind != CUB_V_ARRAY)
		return om_fail(om, "'samples' is a %s, not a list",
		    cub_val__kind_name(samples->kind));
	for (i = 0; i < 4 && om_types[t].suffixes[i]; i++)
		if ((r = om_claim(om, name, om_types[t].suffixes[i])) < 0)
			return r;

	/* Labels of every sample, then duplicate series. */
	if (samples && samples->arr.len) {
		keys = calloc(samples->arr.len, sizeof(*keys));
		if (!keys)
			return -ENOMEM;
	}
	for (i = 0; samples && i < samples->arr.len && !r; i++) {
		const struct cub_val *s = samples->arr.items[i];

		if (s->kind != CUB_V_MAP) {
			r = om_fail(om, "sample %zu is a %s, not a map", i,
			    cub_val__kind_name(s->kind));
			break;
		}
		r = om_labels_check(om, cub_val__get(s, "labels"), i,
		    t == OM_HISTOGRAM ? "le"
		    : t == OM_SUMMARY ? "quantile"
				      : NULL,
		    &keys[i]);
		if (!r)
			nkeys++;
	}
	if (!r && nkeys > 1) {
		qsort(keys, nkeys, sizeof(*keys), om_key_cmp);
		for (i = 1; i < nkeys; i++)
			if (!strcmp(keys[i - 1], keys[i])) {
				r = om_fail(
				    om, "two samples have the same labels");
				break;
			}
	}
	for (i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	if (r < 0)
		return r;

	/* Metadata. */
	{
		const char *full = name;
		char tot[216];

		if (t == OM_COUNTER && om->fmt == CUB_OM_PROMETHEUS) {
			snprintf(tot, sizeof(tot), "%s_total", name);
			full = tot;
		}
		if (help && *help) {
			fprintf(om->f, "# HELP %s ", full);
			om_escape(om->f, help, om->fmt == CUB_OM_OPENMETRICS);
			fputc('\n', om->f);
		}
		fprintf(om->f, "# TYPE %s %s\n", full,
		    om->fmt == CUB_OM_OPENMETRICS ? om_types[t].om
						  : om_types[t].prom);
		if (unit && *unit && om->fmt == CUB_OM_OPENMETRICS)
			fprintf(om->f, "# UNIT %s %s\n", full, unit);
	}

	/* Samples. */
	for (i = 0; samples && i < samples->arr.len; i++) {
		const struct cub_val *s = samples->arr.items[i];
		char vbuf[64];
		double d;

		if (t == OM_HISTOGRAM) {
			if ((r = om_histogram_sample(om, name, s, i)) < 0)
				return r;
			continue;
		}
		if (t == OM_SUMMARY) {
			if ((r = om_summary_sample(om, name, s, i)) < 0)
				return r;
			continue;
		}
		if (om_number(
			cub_val__get(s, "value"), vbuf, sizeof(vbuf), &d) < 0)
			return om_fail(
			    om, "sample %zu: 'value' must be a number", i);
		if (t == OM_COUNTER && (d < 0 || isnan(d)))
			return om_fail(om,
			    "sample %zu: a counter's value must be "
			    "a non-negative number",
			    i);
		fprintf(om->f, "%s%s", name, t == OM_COUNTER ? "_total" : "");
		om_labels_write(om, cub_val__get(s, "labels"), NULL, NULL);
		fprintf(om->f, " %s\n", vbuf);
	}
	return 0;
}

int
cub_om_render(const struct cub_val *families, enum cub_om_format fmt,
    const struct cub_om_label *extra, size_t nextra, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	struct om om = {.fmt = fmt,
	    .extra = extra,
	    .nextra = nextra,
	    .err = err,
	    .errlen = errlen};
	char *buf = NULL;
	size_t len = 0, i, j;
	int r = 0;

	if (err && errlen)
		err[0] = '\0';
	if (fmt != CUB_OM_OPENMETRICS && fmt != CUB_OM_PROMETHEUS)
		return om_fail(&om, "unknown output format %d", (int)fmt);
	if (!families || families->kind != CUB_V_ARRAY)
		return om_fail(&om, "the families are a %s, not a list",
		    families ? cub_val__kind_name(families->kind) : "nothing");
	for (i = 0; i < nextra; i++) {
		if (!om_label_name_ok(extra[i].name))
			return om_fail(&om, "bad added label name '%.64s'",
			    extra[i].name ? extra[i].name : "(null)");
		if (!extra[i].value ||
		    !om_utf8_ok(extra[i].value, strlen(extra[i].value)))
			return om_fail(&om,
			    "added label '%s' has no UTF-8 value",
			    extra[i].name);
		for (j = 0; j < i; j++)
			if (!strcmp(extra[i].name, extra[j].name))
				return om_fail(&om,
				    "added label '%s' appears "
				    "twice",
				    extra[i].name);
	}
	om.seen = cub_val__map();
	if (!om.seen)
		return -ENOMEM;
	om.f = open_memstream(&buf, &len);
	if (!om.f) {
		cub_val__free(om.seen);
		return -ENOMEM;
	}
	for (i = 0; i < families->arr.len && !r; i++)
		r = om_family(&om, families->arr.items[i], i);
	if (!r && fmt == CUB_OM_OPENMETRICS)
		fputs("# EOF\n", om.f);
	if (fclose(om.f) != 0 && !r)
		r = -ENOMEM;
	cub_val__free(om.seen);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	if (outlen)
		*outlen = len;
	return 0;
}
