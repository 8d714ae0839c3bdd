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

/* The ro list of cubicle/openmetrics.h "How a service hands families". */
static const char *const om_type_names[] = {
    "counter", "gauge", "histogram", "summary", "unknown", NULL};

static const struct cub_field om_label_fields[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = 200,
	.help = "label name"},
    {.name = "value",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.max = 4096,
	.help = "label value"},
    {0},
};

static const struct cub_field om_bucket_fields[] = {
    {.name = "le",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = 64,
	.help = "upper bound, or +Inf"},
    {.name = "count",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "cumulative count"},
    {0},
};

static const struct cub_field om_quantile_fields[] = {
    {.name = "quantile",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = 64,
	.help = "quantile in [0, 1]"},
    {.name = "value",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.max = 64,
	.help = "value at the quantile"},
    {0},
};

static const struct cub_field om_sample_fields[] = {
    {.name = "id",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = 16,
	.help = "the sample's index"},
    {.name = "labels",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.help = "labels",
	.children = om_label_fields},
    {.name = "value",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.max = 64,
	.help = "value (counter, gauge, unknown)"},
    {.name = "count",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "observations (histogram, summary)"},
    {.name = "sum",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.max = 64,
	.help = "sum of observations (histogram, summary)"},
    {.name = "buckets",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.help = "histogram buckets",
	.children = om_bucket_fields},
    {.name = "quantiles",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.help = "summary quantiles",
	.children = om_quantile_fields},
    {0},
};

const struct cub_field cub_om_family_fields[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = 200,
	.help = "metric name"},
    /* "help" is a path word: the family's help travels as description. */
    {.name = "description",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.max = 4096,
	.help = "help text"},
    {.name = "type",
	.type = CUB_T_ENUM,
	.flags = CUB_F_RO,
	.enums = om_type_names,
	.help = "metric type"},
    {.name = "unit",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.max = 64,
	.help = "unit"},
    {.name = "samples",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.help = "samples",
	.children = om_sample_fields},
    {0},
};

/* Family members and their names in the list ("help" is a path word). */
static const char *const om_fam_keys[] = {"name", "help", "type", "unit"};
static const char *const om_doc_keys[] = {
    "name", "description", "type", "unit"};

/* A number as text: integers exactly, floats in the shortest exact form. */
static struct cub_val *
om_num_text(const struct cub_val *v)
{
	char buf[64];
	double d;

	if (om_number(v, buf, sizeof(buf), &d) < 0)
		return NULL;
	return cub_val__str(buf);
}

/* Text back to a number: [-]digits as an integer, else a double. */
static struct cub_val *
om_text_num(const char *s)
{
	char *end;
	size_t i = s[0] == '-';

	if (!s[i])
		return NULL;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	errno = 0;
	if (!s[i] && s[0] != '-') {
		uint64_t u = strtoull(s, &end, 10);

		if (!errno)
			return cub_val__uint(u);
	} else if (!s[i]) {
		int64_t n = strtoll(s, &end, 10);

		if (!errno)
			return cub_val__int(n);
	}
	if (!strcmp(s, "+Inf"))
		return cub_val__float(INFINITY);
	if (!strcmp(s, "-Inf"))
		return cub_val__float(-INFINITY);
	if (!strcmp(s, "NaN"))
		return cub_val__float(NAN);
	{
		double d = strtod(s, &end);

		if (*end || end == s || isnan(d) || isinf(d))
			return NULL;
		return cub_val__float(d);
	}
}

/* Copies m[key], a number, as text into dst[key] (absent: nothing). */
static int
om_put_text(struct om *om, struct cub_val *dst, const struct cub_val *m,
    const char *key, size_t si)
{
	const struct cub_val *v = cub_val__get(m, key);
	struct cub_val *t;

	if (!v)
		return 0;
	if (v->kind == CUB_V_STR && !strcmp(v->str.ptr, "+Inf"))
		t = cub_val__str("+Inf");
	else
		t = om_num_text(v);
	if (!t)
		return om_fail(
		    om, "sample %zu: '%s' must be a number", si, key);
	return cub_val__set(dst, key, t) < 0 ? -ENOMEM : 0;
}

/* [{k: a, v: b}...] from a list of maps, keyed by kname, valued by vname. */
static int
om_pairs_to_doc(struct om *om, struct cub_val *dst, const char *list,
    const struct cub_val *src, const char *kname, const char *vname, bool vnum,
    size_t si)
{
	struct cub_val *arr, *e;
	uint32_t i;

	if (!src)
		return 0;
	if (src->kind != CUB_V_ARRAY)
		return om_fail(om, "sample %zu: '%s' must be a list", si, list);
	if (!(arr = cub_val__array()) || cub_val__set(dst, list, arr) < 0)
		return -ENOMEM;
	for (i = 0; i < src->arr.len; i++) {
		const struct cub_val *p = src->arr.items[i];
		int r;

		if (!(e = cub_val__map()) || cub_val__push(arr, e) < 0)
			return -ENOMEM;
		if ((r = om_put_text(om, e, p, kname, si)) < 0)
			return r;
		if (vnum)
			r = om_put_text(om, e, p, vname, si);
		else if (cub_val__get(p, vname))
			r = cub_val__set(e, vname,
				cub_val__dup(cub_val__get(p, vname))) < 0
				? -ENOMEM
				: 0;
		if (r < 0)
			return r;
	}
	return 0;
}

int
cub_om_families_to_doc(const struct cub_val *families, struct cub_val **list,
    char *err, size_t errlen)
{
	struct om om = {.err = err, .errlen = errlen};
	struct cub_val *out, *f, *ss, *s, *ls, *l;
	char *text = NULL, id[16];
	uint32_t i, j, k;
	int r;

	/* Validation is the renderer's. */
	r = cub_om_render(
	    families, CUB_OM_OPENMETRICS, NULL, 0, &text, NULL, err, errlen);
	free(text);
	if (r < 0)
		return r;
	if (!(out = cub_val__array()))
		return -ENOMEM;
	for (i = 0; i < families->arr.len; i++) {
		const struct cub_val *fam = families->arr.items[i];
		const struct cub_val *samples = cub_val__get(fam, "samples");

		om.family = cub_val__get_str(fam, "name");
		if (!(f = cub_val__map()) || cub_val__push(out, f) < 0)
			goto nomem;
		for (k = 0; k < 4; k++)
			if (cub_val__get(fam, om_fam_keys[k]) &&
			    cub_val__set(f, om_doc_keys[k],
				cub_val__dup(
				    cub_val__get(fam, om_fam_keys[k]))) < 0)
				goto nomem;
		if (!cub_val__get(fam, "type") &&
		    cub_val__set(f, "type", cub_val__str("unknown")) < 0)
			goto nomem;
		if (!(ss = cub_val__array()) ||
		    cub_val__set(f, "samples", ss) < 0)
			goto nomem;
		for (j = 0; samples && j < samples->arr.len; j++) {
			const struct cub_val *sm = samples->arr.items[j];
			const struct cub_val *labels =
			    cub_val__get(sm, "labels");

			if (!(s = cub_val__map()) || cub_val__push(ss, s) < 0)
				goto nomem;
			snprintf(id, sizeof(id), "%u", j);
			if (cub_val__set(s, "id", cub_val__str(id)) < 0 ||
			    !(ls = cub_val__array()) ||
			    cub_val__set(s, "labels", ls) < 0)
				goto nomem;
			for (k = 0; labels && k < labels->map.len; k++) {
				const struct cub_val *lv =
				    labels->map.items[k].val;

				if (!(l = cub_val__map()) ||
				    cub_val__push(ls, l) < 0 ||
				    cub_val__set(l, "name",
					cub_val__str(
					    labels->map.items[k].key)) < 0 ||
				    cub_val__set(l, "value",
					lv->kind == CUB_V_STR
					    ? cub_val__str(lv->str.ptr)
					    : om_num_text(lv)) < 0)
					goto nomem;
			}
			if ((r = om_put_text(&om, s, sm, "value", j)) < 0 ||
			    (r = om_put_text(&om, s, sm, "sum", j)) < 0 ||
			    (r = om_pairs_to_doc(&om, s, "buckets",
				 cub_val__get(sm, "buckets"), "le", "count",
				 false, j)) < 0 ||
			    (r = om_pairs_to_doc(&om, s, "quantiles",
				 cub_val__get(sm, "quantiles"), "quantile",
				 "value", true, j)) < 0)
				goto fail;
			if (cub_val__get(sm, "count") &&
			    cub_val__set(s, "count",
				cub_val__dup(cub_val__get(sm, "count"))) < 0)
				goto nomem;
		}
	}
	*list = out;
	return 0;
nomem:
	r = -ENOMEM;
fail:
	cub_val__free(out);
	return r;
}

static int
om_bucket_cmp(const void *a, const void *b)
{
	const struct cub_val *x = *(struct cub_val *const *)a;
	const struct cub_val *y = *(struct cub_val *const *)b;
	double dx = 0, dy = 0;
	char buf[64];

	if (x->kind == CUB_V_STR)
		dx = INFINITY;
	else
		om_number(x, buf, sizeof(buf), &dx);
	if (y->kind == CUB_V_STR)
		dy = INFINITY;
	else
		om_number(y, buf, sizeof(buf), &dy);
	return dx < dy ? -1 : dx > dy;
}

/* le/quantile text (kname) and its value back into numbers. */
static int
om_pairs_from_doc(struct om *om, struct cub_val *dst, const char *list,
    const struct cub_val *src, const char *kname, const char *vname, bool vnum,
    size_t si)
{
	struct cub_val *arr, *e, *n;
	struct cub_val **keys;
	uint32_t i;

	if (!src)
		return 0;
	if (src->kind != CUB_V_ARRAY)
		return om_fail(om, "sample %zu: '%s' is not a list", si, list);
	if (!(arr = cub_val__array()) || cub_val__set(dst, list, arr) < 0)
		return -ENOMEM;
	for (i = 0; i < src->arr.len; i++) {
		const struct cub_val *p = src->arr.items[i];
		const char *ks = cub_val__get_str(p, kname);
		const char *vs = cub_val__get_str(p, vname);

		if (!ks)
			return om_fail(om,
			    "sample %zu: a '%s' entry has no '%s'", si, list,
			    kname);
		n = !strcmp(ks, "+Inf") && !strcmp(kname, "le")
			? cub_val__str("+Inf")
			: om_text_num(ks);
		if (!n)
			return om_fail(om,
			    "sample %zu: %s '%.32s' is not a number", si, kname,
			    ks);
		if (!(e = cub_val__map()) || cub_val__push(arr, e) < 0 ||
		    cub_val__set(e, kname, n) < 0)
			return -ENOMEM;
		if (vnum) {
			if (!vs || !(n = om_text_num(vs)))
				return om_fail(om,
				    "sample %zu: %s '%.32s' has no "
				    "numeric '%s'",
				    si, kname, ks, vname);
		} else {
			n = cub_val__dup(cub_val__get(p, vname));
		}
		if (n && cub_val__set(e, vname, n) < 0)
			return -ENOMEM;
	}
	/* Sorted by the key's number (the tree may keep another order). */
	keys = calloc(arr->arr.len ? arr->arr.len : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < arr->arr.len; i++)
		keys[i] = cub_val__get(arr->arr.items[i], kname);
	{
		struct cub_val **items = arr->arr.items;
		struct cub_val **sorted =
		    calloc(arr->arr.len ? arr->arr.len : 1, sizeof(*sorted));
		uint32_t a, b;

		if (!sorted) {
			free(keys);
			return -ENOMEM;
		}
		/* Stable insertion sort of entries by their key. */
		for (a = 0; a < arr->arr.len; a++) {
			sorted[a] = items[a];
			for (b = a;
			     b > 0 && om_bucket_cmp(&keys[b - 1], &keys[b]) > 0;
			     b--) {
				struct cub_val *t = sorted[b], *tk = keys[b];

				sorted[b] = sorted[b - 1];
				sorted[b - 1] = t;
				keys[b] = keys[b - 1];
				keys[b - 1] = tk;
			}
		}
		memcpy(items, sorted, arr->arr.len * sizeof(*items));
		free(sorted);
	}
	free(keys);
	return 0;
}

int
cub_om_families_from_doc(const struct cub_val *list, struct cub_val **families,
    char *err, size_t errlen)
{
	struct om om = {.err = err, .errlen = errlen};
	struct cub_val *out, *f, *ss, *s, *ls, *n;
	uint32_t i, j, k;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!list || list->kind != CUB_V_ARRAY)
		return om_fail(&om, "'%s' is not a list", CUB_OM_FAMILIES_NAME);
	if (!(out = cub_val__array()))
		return -ENOMEM;
	for (i = 0; i < list->arr.len; i++) {
		const struct cub_val *fam = list->arr.items[i];
		const struct cub_val *samples = cub_val__get(fam, "samples");

		om.family = cub_val__get_str(fam, "name");
		if (!om.family) {
			r = om_fail(&om, "family %u has no name", i);
			goto fail;
		}
		if (!(f = cub_val__map()) || cub_val__push(out, f) < 0)
			goto nomem;
		for (k = 0; k < 4; k++)
			if (cub_val__get(fam, om_doc_keys[k]) &&
			    cub_val__set(f, om_fam_keys[k],
				cub_val__dup(
				    cub_val__get(fam, om_doc_keys[k]))) < 0)
				goto nomem;
		if (!(ss = cub_val__array()) ||
		    cub_val__set(f, "samples", ss) < 0)
			goto nomem;
		for (j = 0; samples && samples->kind == CUB_V_ARRAY &&
			    j < samples->arr.len;
		     j++) {
			const struct cub_val *sm = samples->arr.items[j];
			const struct cub_val *labels =
			    cub_val__get(sm, "labels");
			const char *t;

			if (!(s = cub_val__map()) || cub_val__push(ss, s) < 0 ||
			    !(ls = cub_val__map()) ||
			    cub_val__set(s, "labels", ls) < 0)
				goto nomem;
			for (k = 0; labels && labels->kind == CUB_V_ARRAY &&
				    k < labels->arr.len;
			     k++) {
				const char *ln = cub_val__get_str(
				    labels->arr.items[k], "name");
				const char *lv = cub_val__get_str(
				    labels->arr.items[k], "value");

				if (!ln || cub_val__set(ls, ln,
					       cub_val__str(lv ? lv : "")) < 0)
					goto nomem;
			}
			if ((t = cub_val__get_str(sm, "value"))) {
				if (!(n = om_text_num(t))) {
					r = om_fail(&om,
					    "sample %u: value '%.32s' "
					    "is not a number",
					    j, t);
					goto fail;
				}
				if (cub_val__set(s, "value", n) < 0)
					goto nomem;
			}
			if ((t = cub_val__get_str(sm, "sum"))) {
				if (!(n = om_text_num(t))) {
					r = om_fail(&om,
					    "sample %u: sum '%.32s' "
					    "is not a number",
					    j, t);
					goto fail;
				}
				if (cub_val__set(s, "sum", n) < 0)
					goto nomem;
			}
			if (cub_val__get(sm, "count") &&
			    cub_val__set(s, "count",
				cub_val__dup(cub_val__get(sm, "count"))) < 0)
				goto nomem;
			if ((r = om_pairs_from_doc(&om, s, "buckets",
				 cub_val__get(sm, "buckets"), "le", "count",
				 false, j)) < 0 ||
			    (r = om_pairs_from_doc(&om, s, "quantiles",
				 cub_val__get(sm, "quantiles"), "quantile",
				 "value", true, j)) < 0)
				goto fail;
		}
	}
	*families = out;
	return 0;
nomem:
	r = -ENOMEM;
fail:
	cub_val__free(out);
	return r;
}
