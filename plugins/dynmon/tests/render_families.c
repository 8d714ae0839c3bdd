// SPDX-License-Identifier: BSD-2-Clause
/*
 * dynmon-render-families OM PROM: the families dynmon_decode builds from
 * tests/dm_types.bpf.c's maps (Polycube's NTP counter, a hash of flows,
 * a per-CPU gauge, an array by index, an exp2 and a linear histogram;
 * 5000 flows, capped at DM_SERIES_MAX),
 * folded once into cumulative totals, rendered by cub_om_render() into
 * OM (OpenMetrics 1.0) and PROM (Prometheus 0.0.4) for
 * tests/validate-families.sh to check with the two validators.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cubicle/openmetrics.h>

#include "btfval.h"
#include "catalog.h"
#include "families.h"
#include "tests/dm_types.h"
/* The skeleton names the types of its globals: after dm_types.h. */
#include "dm_types.skel.h"

static struct dm_catalog *cat;
static struct cub_val *fams;
static struct dm_totals *totals;

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "render-families: %s: %s\n", what, err);
	exit(1);
}

static void
add(char path, const char *map, const char *mc_json, const struct dm_entries *e)
{
	char err[512] = "";
	struct cub_val *mc =
	    cub_json_parse(mc_json, strlen(mc_json), err, sizeof(err));
	struct cub_val *f;
	const struct dm_map *m = dm_catalog_find(cat, path, map);

	if (!mc || !m)
		die(map, mc ? "no such map" : err);
	if (dm_families_from_metric(cat, m, mc, e, &f, err, sizeof(err)))
		die(map, err);
	if (dm_totals_add(totals, f, true, err, sizeof(err)) ||
	    dm_totals_add(totals, f, true, err, sizeof(err)))
		die(map, err);
	cub_val__push(fams, f);
	cub_val__free(mc);
}

static void
render(enum cub_om_format fmt, const struct cub_val *v, const char *path)
{
	struct cub_om_label cube = {"cube", "mon1"};
	char err[512] = "", *text;
	size_t len;
	FILE *f;

	if (cub_om_render(v, fmt, &cube, 1, &text, &len, err, sizeof(err)))
		die("render", err);
	f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f))
		die(path, "cannot write");
	free(text);
}

int
main(int argc, char **argv)
{
	uint64_t ntp = 42, pc[2] = {3, 4}, ports[4] = {5, 6, 7, 8}, lat[10],
		 sz[6][2], *bytes;
	uint32_t zero = 0, keys[10], i;
	struct flow_key *k;
	struct dm_entries e;
	struct cub_val *tot;
	char err[512] = "";
	const void *elf;
	size_t len;

	if (argc != 3) {
		fprintf(stderr, "usage: %s OM-FILE PROM-FILE\n", argv[0]);
		return 2;
	}
	elf = dm_types__elf_bytes(&len);
	if (dm_catalog_open(elf, len, &cat, err, sizeof(err)))
		die("catalog", err);
	fams = cub_val__array();
	totals = dm_totals_new();
	e = (struct dm_entries){&zero, &ntp, 1, 1};
	add('i', "NTP_PACKETS",
	    "{\"name\":\"ntp_packets_total\",\"open-metrics-metadata\":{"
	    "\"help\":"
	    "\"NTP packets \\\\ \\\"quoted\\\"\\nsecond "
	    "line\",\"type\":\"counter\","
	    "\"labels\":[{\"name\":\"IP_PROTO\",\"value\":\"UDP\"},"
	    "{\"name\":\"L4\",\"value\":\"NTP \\\"v4\\\"\\\\x\"}]}}",
	    &e);
	e = (struct dm_entries){&zero, pc, 1, 2};
	add('i', "PCPU",
	    "{\"name\":\"queue_depth\",\"open-metrics-metadata\":{\"help\":"
	    "\"h\","
	    "\"type\":\"Gauge\"}}",
	    &e);
	for (i = 0; i < 10; i++) {
		keys[i] = i;
		lat[i] = i + 1;
	}
	e = (struct dm_entries){keys, ports, 4, 1};
	add('e', "PORTS",
	    "{\"name\":\"port_packets_total\",\"open-metrics-metadata\":{"
	    "\"help\":"
	    "\"by port\",\"type\":\"counter\"}}",
	    &e);
	k = calloc(5000, sizeof(*k));
	bytes = calloc(5000, sizeof(*bytes));
	for (i = 0; i < 5000; i++) {
		k[i].saddr = htonl(0x0a000001 + i);
		k[i].daddr = htonl(0xc0a80101);
		k[i].sport = htons((uint16_t)(40000 + i));
		k[i].dport = htons(123);
		k[i].proto = 17;
		memcpy(k[i].mac, "\x02\x00\x00\x00\x00\x01", 6);
		strcpy(k[i].ifname, "veth0");
		bytes[i] = 1000 + i;
	}
	/* Past DM_SERIES_MAX: the family carries "dropped". */
	e = (struct dm_entries){k, bytes, 5000, 1};
	add('i', "FLOWS",
	    "{\"name\":\"flow_bytes_total\",\"open-metrics-metadata\":{"
	    "\"help\":"
	    "\"bytes per flow\",\"type\":\"counter\"}}",
	    &e);
	e = (struct dm_entries){keys, lat, 10, 1};
	add('i', "LAT_HIST",
	    "{\"name\":\"latency_seconds\",\"open-metrics-metadata\":{\"help\":"
	    "\"latency\",\"type\":\"histogram\"},\"histogram\":{\"kind\":"
	    "\"exp2\","
	    "\"bucket-multiplier\":0.000001,\"bucket-max\":8}}",
	    &e);
	for (i = 0; i < 6; i++) {
		sz[i][0] = i;
		sz[i][1] = 2 * i;
	}
	e = (struct dm_entries){keys, sz, 6, 2};
	add('i', "SIZE_HIST",
	    "{\"name\":\"packet_size_bytes\",\"open-metrics-metadata\":{"
	    "\"help\":"
	    "\"sizes\",\"type\":\"histogram\"},\"histogram\":{\"kind\":"
	    "\"linear\","
	    "\"bucket-multiplier\":256,\"bucket-max\":4}}",
	    &e);
	/* The totals after two equal delta reads: what the gateway shows. */
	if (dm_totals_families(totals, &tot))
		die("totals", "ENOMEM");
	render(CUB_OM_OPENMETRICS, tot, argv[1]);
	render(CUB_OM_PROMETHEUS, tot, argv[2]);
	cub_val__free(tot);
	cub_val__free(fams);
	dm_totals_free(totals);
	dm_catalog_free(cat);
	free(k);
	free(bytes);
	return 0;
}
