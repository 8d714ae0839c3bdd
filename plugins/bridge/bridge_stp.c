// SPDX-License-Identifier: BSD-2-Clause
/*
 * bridge: 802.1D-1998 spanning tree, one instance (bridge_stp.h).  The
 * procedures keep the standard's names (clause 8.6, as Linux's
 * net/bridge/br_stp.c has them): root_selection, designated_port_
 * selection, port_state_selection, transmit_config, ...
 */
#include <stdio.h>
#include <string.h>

#include "bridge_stp.h"

#define MSG_AGE_INCR 1000 /* ms added to the message age per bridge */

static bool
is_designated(const struct stp_inst *s, uint32_t i)
{
	const struct stp_port *p = &s->p[i];

	return p->d_bridge == s->bridge_id && p->d_port == p->port_id;
}

bool
stp_is_root(const struct stp_inst *s)
{
	return s->d_root == s->bridge_id;
}

static void
set_state(struct stp_inst *s, uint32_t i, uint8_t state)
{
	struct stp_port *p = &s->p[i];

	if (p->state == state)
		return;
	if ((p->state == BR_PS_FORWARDING || p->state == BR_PS_LEARNING) &&
	    state != BR_PS_FORWARDING)
		s->flushed[i / 32] |= 1u << (i % 32);
	p->state = state;
	s->dirty = true;
}

/* 1/256 s units on the wire. */
static void
put_time(uint8_t *b, uint32_t ms)
{
	uint32_t t = (uint32_t)((uint64_t)ms * 256 / 1000);

	b[0] = (uint8_t)(t >> 8);
	b[1] = (uint8_t)t;
}

static uint32_t
get_time(const uint8_t *b)
{
	return (uint32_t)(((uint64_t)(b[0] << 8 | b[1]) * 1000 + 255) / 256);
}

static void
put_u64(uint8_t *b, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t
get_u64(const uint8_t *b)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void
transmit_config(struct stp_inst *s, uint32_t i, int64_t now)
{
	struct stp_port *p = &s->p[i];
	uint8_t b[STP_BPDU_CONFIG_LEN] = {0};
	int64_t age = 0;

	if (p->t_hold) {
		p->config_pending = true;
		return;
	}
	if (!stp_is_root(s) && s->root_port >= 0)
		age = now - s->p[s->root_port].age_base + MSG_AGE_INCR;
	if (age >= (int64_t)s->max_age)
		return;
	b[3] = 0; /* config */
	b[4] = (uint8_t)((s->tc ? 0x01 : 0) | (p->tc_ack ? 0x80 : 0));
	put_u64(b + 5, s->d_root);
	b[13] = (uint8_t)(s->root_cost >> 24);
	b[14] = (uint8_t)(s->root_cost >> 16);
	b[15] = (uint8_t)(s->root_cost >> 8);
	b[16] = (uint8_t)s->root_cost;
	put_u64(b + 17, s->bridge_id);
	b[25] = (uint8_t)(p->port_id >> 8);
	b[26] = (uint8_t)p->port_id;
	put_time(b + 27, (uint32_t)age);
	put_time(b + 29, s->max_age);
	put_time(b + 31, s->hello);
	put_time(b + 33, s->fwd);
	s->send(s->ctx, i, s->vid, b, sizeof(b));
	p->tx_bpdus++;
	p->tc_ack = false;
	p->config_pending = false;
	p->t_hold = now + STP_HOLD_MS;
}

static void
transmit_tcn(struct stp_inst *s)
{
	uint8_t b[STP_BPDU_TCN_LEN] = {0, 0, 0, 0x80};

	if (s->root_port < 0)
		return;
	s->send(s->ctx, (uint32_t)s->root_port, s->vid, b, sizeof(b));
	s->p[s->root_port].tx_bpdus++;
}

static void
config_bpdu_generation(struct stp_inst *s, int64_t now)
{
	uint32_t i;

	for (i = 0; i < STP_PORTS; i++)
		if (s->p[i].enabled && is_designated(s, i))
			transmit_config(s, i, now);
}

static void
topology_change_detection(struct stp_inst *s, int64_t now)
{
	if (stp_is_root(s)) {
		s->tc = true;
		s->t_tc = now + s->b_fwd + s->b_max_age;
		s->tc_count++;
	} else if (!s->tc_detected) {
		transmit_tcn(s);
		s->t_tcn = now + s->b_hello;
	}
	s->tc_detected = true;
}

static bool
should_become_root_port(const struct stp_inst *s, uint32_t i, int rp)
{
	const struct stp_port *p = &s->p[i], *r;
	uint64_t pc, rc;

	if (!p->enabled || is_designated(s, i) || s->bridge_id <= p->d_root)
		return false;
	if (rp < 0)
		return true;
	r = &s->p[rp];
	if (p->d_root != r->d_root)
		return p->d_root < r->d_root;
	pc = (uint64_t)p->d_cost + p->path_cost;
	rc = (uint64_t)r->d_cost + r->path_cost;
	if (pc != rc)
		return pc < rc;
	if (p->d_bridge != r->d_bridge)
		return p->d_bridge < r->d_bridge;
	if (p->d_port != r->d_port)
		return p->d_port < r->d_port;
	return p->port_id < r->port_id;
}

static void
root_selection(struct stp_inst *s)
{
	int rp = -1;
	uint32_t i;

	for (i = 0; i < STP_PORTS; i++)
		if (should_become_root_port(s, i, rp))
			rp = (int)i;
	s->root_port = rp;
	if (rp < 0) {
		s->d_root = s->bridge_id;
		s->root_cost = 0;
	} else {
		s->d_root = s->p[rp].d_root;
		s->root_cost = s->p[rp].d_cost + s->p[rp].path_cost;
	}
}

static void
become_designated_port(struct stp_inst *s, uint32_t i)
{
	struct stp_port *p = &s->p[i];

	p->d_root = s->d_root;
	p->d_cost = s->root_cost;
	p->d_bridge = s->bridge_id;
	p->d_port = p->port_id;
}

static bool
should_become_designated_port(const struct stp_inst *s, uint32_t i)
{
	const struct stp_port *p = &s->p[i];

	if (is_designated(s, i) || s->d_root != p->d_root)
		return true;
	if (s->root_cost != p->d_cost)
		return s->root_cost < p->d_cost;
	if (s->bridge_id != p->d_bridge)
		return s->bridge_id < p->d_bridge;
	return p->port_id < p->d_port;
}

static void
designated_port_selection(struct stp_inst *s)
{
	uint32_t i;

	for (i = 0; i < STP_PORTS; i++)
		if (s->p[i].enabled && should_become_designated_port(s, i))
			become_designated_port(s, i);
}

static void
configuration_update(struct stp_inst *s)
{
	root_selection(s);
	designated_port_selection(s);
}

static void
make_forwarding(struct stp_inst *s, uint32_t i, int64_t now)
{
	struct stp_port *p = &s->p[i];

	if (p->state != BR_PS_BLOCKING)
		return;
	set_state(s, i, BR_PS_LISTENING);
	p->t_fwd = now + s->fwd;
}

static void
make_blocking(struct stp_inst *s, uint32_t i, int64_t now)
{
	struct stp_port *p = &s->p[i];

	if (p->state == BR_PS_DISABLED || p->state == BR_PS_BLOCKING)
		return;
	if (p->state == BR_PS_FORWARDING || p->state == BR_PS_LEARNING)
		topology_change_detection(s, now);
	set_state(s, i, BR_PS_BLOCKING);
	p->t_fwd = 0;
}

static void
port_state_selection(struct stp_inst *s, int64_t now)
{
	struct stp_port *p;
	uint32_t i;

	for (i = 0; i < STP_PORTS; i++) {
		p = &s->p[i];
		if (!p->enabled)
			continue;
		if ((int)i == s->root_port) {
			p->config_pending = false;
			p->tc_ack = false;
			make_forwarding(s, i, now);
		} else if (is_designated(s, i)) {
			p->t_msg_age = 0;
			make_forwarding(s, i, now);
		} else {
			make_blocking(s, i, now);
		}
	}
}

static void
become_root_bridge(struct stp_inst *s, int64_t now)
{
	s->max_age = s->b_max_age;
	s->hello = s->b_hello;
	s->fwd = s->b_fwd;
	topology_change_detection(s, now);
	s->t_tcn = 0;
	config_bpdu_generation(s, now);
	s->t_hello = now + s->hello;
}

void
stp_init(struct stp_inst *s, uint16_t vid, uint64_t bridge_id, uint32_t max_age,
    uint32_t hello, uint32_t fwd)
{
	void *ctx = s->ctx;
	void (*send)(void *, uint32_t, uint16_t, const uint8_t *, size_t) =
	    s->send;

	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->send = send;
	s->vid = vid;
	s->bridge_id = bridge_id;
	s->d_root = bridge_id;
	s->root_port = -1;
	s->b_max_age = s->max_age = max_age;
	s->b_hello = s->hello = hello;
	s->b_fwd = s->fwd = fwd;
}

void
stp_start(struct stp_inst *s, int64_t now)
{
	uint32_t i;

	for (i = 0; i < STP_PORTS; i++)
		if (s->p[i].enabled)
			become_designated_port(s, i);
	port_state_selection(s, now);
	config_bpdu_generation(s, now);
	s->t_hello = now + s->hello;
}

static void
init_port(struct stp_inst *s, uint32_t i)
{
	struct stp_port *p = &s->p[i];

	become_designated_port(s, i);
	if (p->state != BR_PS_FORWARDING)
		set_state(s, i, BR_PS_BLOCKING);
	p->tc_ack = false;
	p->config_pending = false;
	p->t_msg_age = p->t_fwd = p->t_hold = 0;
}

void
stp_port_join(struct stp_inst *s, uint32_t i, bool up, uint16_t port_id,
    uint32_t path_cost, uint8_t seed, int64_t now)
{
	struct stp_port *p = &s->p[i % STP_PORTS];

	if (i >= STP_PORTS || p->member)
		return;
	memset(p, 0, sizeof(*p));
	p->member = true;
	p->port_id = port_id;
	p->path_cost = path_cost;
	/* seed: a restart keeps a forwarding port forwarding. */
	p->state = seed == BR_PS_FORWARDING ? BR_PS_FORWARDING : BR_PS_BLOCKING;
	s->dirty = true;
	if (up && now)
		stp_port_enable(s, i, now);
	else if (up)
		p->enabled = true;
	else
		p->state = BR_PS_DISABLED;
}

void
stp_port_enable(struct stp_inst *s, uint32_t i, int64_t now)
{
	struct stp_port *p = &s->p[i % STP_PORTS];

	if (i >= STP_PORTS || !p->member || p->enabled)
		return;
	p->enabled = true;
	if (p->state == BR_PS_DISABLED)
		set_state(s, i, BR_PS_BLOCKING);
	init_port(s, i);
	port_state_selection(s, now);
}

void
stp_port_disable(struct stp_inst *s, uint32_t i, int64_t now)
{
	struct stp_port *p = &s->p[i % STP_PORTS];
	bool was_root = stp_is_root(s);

	if (i >= STP_PORTS || !p->member || !p->enabled)
		return;
	become_designated_port(s, i);
	set_state(s, i, BR_PS_DISABLED);
	p->enabled = false;
	p->tc_ack = p->config_pending = false;
	p->t_msg_age = p->t_fwd = p->t_hold = 0;
	configuration_update(s);
	port_state_selection(s, now);
	if (stp_is_root(s) && !was_root)
		become_root_bridge(s, now);
}

void
stp_port_leave(struct stp_inst *s, uint32_t i, int64_t now)
{
	if (i >= STP_PORTS || !s->p[i].member)
		return;
	stp_port_disable(s, i, now);
	s->flushed[i / 32] |= 1u << (i % 32);
	memset(&s->p[i], 0, sizeof(s->p[i]));
	s->dirty = true;
}

void
stp_set_bridge_id(struct stp_inst *s, uint64_t id, int64_t now)
{
	bool was_root = stp_is_root(s);
	uint32_t i;

	if (id == s->bridge_id)
		return;
	for (i = 0; i < STP_PORTS; i++)
		if (s->p[i].enabled && is_designated(s, i))
			s->p[i].d_bridge = id;
	s->bridge_id = id;
	configuration_update(s);
	port_state_selection(s, now);
	if (stp_is_root(s) && !was_root)
		become_root_bridge(s, now);
}

void
stp_set_times(
    struct stp_inst *s, uint32_t max_age, uint32_t hello, uint32_t fwd)
{
	s->b_max_age = max_age;
	s->b_hello = hello;
	s->b_fwd = fwd;
	if (stp_is_root(s)) {
		s->max_age = max_age;
		s->hello = hello;
		s->fwd = fwd;
	}
}

void
stp_set_port(struct stp_inst *s, uint32_t i, uint16_t port_id,
    uint32_t path_cost, int64_t now)
{
	struct stp_port *p = &s->p[i % STP_PORTS];

	if (i >= STP_PORTS || !p->member ||
	    (p->port_id == port_id && p->path_cost == path_cost))
		return;
	if (p->enabled && is_designated(s, i))
		p->d_port = port_id;
	p->port_id = port_id;
	p->path_cost = path_cost;
	configuration_update(s);
	port_state_selection(s, now);
}

static bool
supersedes_port_info(const struct stp_port *p, const struct stp_inst *s,
    uint64_t root, uint32_t cost, uint64_t bridge, uint16_t port)
{
	if (root != p->d_root)
		return root < p->d_root;
	if (cost != p->d_cost)
		return cost < p->d_cost;
	if (bridge != p->d_bridge)
		return bridge < p->d_bridge;
	if (bridge != s->bridge_id)
		return true;
	return port <= p->d_port;
}

static void
received_config(struct stp_inst *s, uint32_t i, const uint8_t *b, int64_t now)
{
	struct stp_port *p = &s->p[i];
	bool was_root = stp_is_root(s);
	uint64_t root = get_u64(b + 5), bridge = get_u64(b + 17);
	uint32_t cost = (uint32_t)b[13] << 24 | (uint32_t)b[14] << 16 |
			(uint32_t)b[15] << 8 | b[16];
	uint16_t port = (uint16_t)(b[25] << 8 | b[26]);
	uint32_t age = get_time(b + 27), max_age = get_time(b + 29);
	uint32_t hello = get_time(b + 31), fwd = get_time(b + 33);

	if (age >= max_age)
		return; /* 802.1D 9.3.4: discarded */
	if (supersedes_port_info(p, s, root, cost, bridge, port)) {
		/* record_config_information */
		p->d_root = root;
		p->d_cost = cost;
		p->d_bridge = bridge;
		p->d_port = port;
		p->age_base = now - age;
		p->t_msg_age = now + (max_age - age);
		configuration_update(s);
		port_state_selection(s, now);
		if (!stp_is_root(s) && was_root) {
			s->t_hello = 0;
			if (s->tc_detected) {
				s->t_tc = 0;
				transmit_tcn(s);
				s->t_tcn = now + s->b_hello;
			}
		}
		if ((int)i == s->root_port) {
			/* record_config_timeout_values */
			s->max_age = max_age;
			s->hello = hello ? hello : 1000;
			s->fwd = fwd ? fwd : 1000;
			s->tc = b[4] & 0x01;
			config_bpdu_generation(s, now);
			if (b[4] & 0x80) { /* topology change acknowledged */
				s->tc_detected = false;
				s->t_tcn = 0;
			}
		}
	} else if (is_designated(s, i)) {
		transmit_config(s, i, now); /* reply */
	}
}

void
stp_rx(
    struct stp_inst *s, uint32_t i, const uint8_t *b, size_t len, int64_t now)
{
	struct stp_port *p = &s->p[i % STP_PORTS];

	if (i >= STP_PORTS || !p->enabled || len < STP_BPDU_TCN_LEN || b[0] ||
	    b[1])
		return;
	p->rx_bpdus++;
	if (b[3] == 0x00 && len >= STP_BPDU_CONFIG_LEN) {
		received_config(s, i, b, now);
	} else if (b[3] == 0x80) {
		/* received_tcn_bpdu */
		if (is_designated(s, i)) {
			topology_change_detection(s, now);
			p->tc_ack = true;
			transmit_config(s, i, now);
		}
	}
}

static bool
due(int64_t *t, int64_t now)
{
	if (!*t || now < *t)
		return false;
	*t = 0;
	return true;
}

static bool
designated_for_some_port(const struct stp_inst *s)
{
	uint32_t i;

	for (i = 0; i < STP_PORTS; i++)
		if (s->p[i].enabled && is_designated(s, i))
			return true;
	return false;
}

void
stp_tick(struct stp_inst *s, int64_t now)
{
	struct stp_port *p;
	bool was_root;
	uint32_t i;

	if (due(&s->t_hello, now)) {
		config_bpdu_generation(s, now);
		s->t_hello = now + s->hello;
	}
	if (due(&s->t_tcn, now) && !stp_is_root(s) && s->tc_detected) {
		transmit_tcn(s);
		s->t_tcn = now + s->b_hello;
	}
	if (due(&s->t_tc, now)) {
		s->tc_detected = false;
		s->tc = false;
	}
	for (i = 0; i < STP_PORTS; i++) {
		p = &s->p[i];
		if (!p->enabled)
			continue;
		if (due(&p->t_msg_age, now)) {
			was_root = stp_is_root(s);
			become_designated_port(s, i);
			configuration_update(s);
			port_state_selection(s, now);
			if (stp_is_root(s) && !was_root)
				become_root_bridge(s, now);
		}
		if (p->t_fwd && now >= p->t_fwd) {
			if (p->state == BR_PS_LISTENING &&
			    now < s->hold_until) {
				p->t_fwd = s->hold_until;
			} else if (p->state == BR_PS_LISTENING) {
				set_state(s, i, BR_PS_LEARNING);
				p->t_fwd = now + s->fwd;
			} else if (p->state == BR_PS_LEARNING) {
				set_state(s, i, BR_PS_FORWARDING);
				p->t_fwd = 0;
				if (designated_for_some_port(s))
					topology_change_detection(s, now);
			} else {
				p->t_fwd = 0;
			}
		}
		if (due(&p->t_hold, now) && p->config_pending)
			transmit_config(s, i, now);
	}
}

enum stp_role
stp_role(const struct stp_inst *s, uint32_t i)
{
	if (i >= STP_PORTS || !s->p[i].enabled)
		return STP_R_DISABLED;
	if ((int)i == s->root_port)
		return STP_R_ROOT;
	return is_designated(s, i) ? STP_R_DESIGNATED : STP_R_BLOCKED;
}

const char *
stp_state_str(uint8_t state)
{
	static const char *const n[] = {
	    [BR_PS_FORWARDING] = "forwarding",
	    [BR_PS_BLOCKING] = "blocking",
	    [BR_PS_LISTENING] = "listening",
	    [BR_PS_LEARNING] = "learning",
	    [BR_PS_DISABLED] = "disabled",
	};

	return state <= BR_PS_DISABLED ? n[state] : "?";
}

const char *
stp_role_str(enum stp_role r)
{
	static const char *const n[] = {
	    [STP_R_DISABLED] = "disabled",
	    [STP_R_ROOT] = "root",
	    [STP_R_DESIGNATED] = "designated",
	    [STP_R_BLOCKED] = "alternate",
	};

	return n[r];
}

void
stp_id_str(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%04x.%02x:%02x:%02x:%02x:%02x:%02x",
	    (unsigned)(id >> 48), (unsigned)(id >> 40) & 0xff,
	    (unsigned)(id >> 32) & 0xff, (unsigned)(id >> 24) & 0xff,
	    (unsigned)(id >> 16) & 0xff, (unsigned)(id >> 8) & 0xff,
	    (unsigned)id & 0xff);
}
