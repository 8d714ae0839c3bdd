// SPDX-License-Identifier: BSD-2-Clause
/*
 * Packet-out: a worker sends a frame out of a port of its own cube, or
 * into its cube's ingress as if received on a port (packet.out, called on
 * the service's worker-call thread, never the main loop).  See "Slow
 * path" in docs/architecture.md.
 *
 *   out of a port whose peer is a netdev: the broker sends the frame on
 *     that netdev (AF_PACKET SOCK_RAW; the broker is root);
 *   out of a port whose peer is another cube's port: into that cube's
 *     ingress as if received on its port;
 *   into a cube's ingress on port P: XDP cubes, BPF_PROG_RUN with live
 *     frames on the cube's program, ingress_ifindex = P's netdev (real
 *     redirects); TC cubes, BPF_PROG_RUN of the cube's program with the
 *     in-port in band (skb->cb[1..2], as the egress program hands it to
 *     a peer cube), then the broker acts on a redirect itself: out of
 *     the port in cb[0], if that port's peer is a netdev.
 *
 * Bounds: a token bucket per cube (--pktout-rate, --pktout-burst);
 * over it a frame is dropped and counted.  The call is synchronous, so a
 * service has at most one frame in flight and the bucket is the queue.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "broker.h"
#include "cube_shared.h"
#include "cubicle/errors.h"
#include "cubicle/proto.h"
#include "log.h"

#define ERR(code, ...) (*errv = cub_err_val(code, __VA_ARGS__), -EINVAL)

static int pkt_fd = -1; /* AF_PACKET, made on first use under b->lock */

static struct bport *
port_by_index(struct cube *c, uint32_t index)
{
	struct bport *p;

	for (p = c->ports; p; p = p->next)
		if (p->index == index)
			return p;
	return NULL;
}

/* The MTU of ifindex, or 1500 when it cannot be read. */
static unsigned
dev_mtu(int ifindex)
{
	struct ifreq ifr = {0};

	if (pkt_fd < 0 || !if_indextoname((unsigned)ifindex, ifr.ifr_name) ||
	    ioctl(pkt_fd, SIOCGIFMTU, &ifr))
		return 1500;
	return (unsigned)ifr.ifr_mtu;
}

/* One token of the cube's bucket, or false: refill by elapsed time. */
static bool
bucket_take(struct broker *b, struct cube *c)
{
	int64_t now = now_ms();
	uint64_t rate = b->o.pktout_rate, burst = b->o.pktout_burst;

	if (!c->pktout_ms) {
		c->pktout_ms = now;
		c->pktout_tokens = burst * 1000;
	} else if (now > c->pktout_ms) {
		c->pktout_tokens += (uint64_t)(now - c->pktout_ms) * rate;
		if (c->pktout_tokens > burst * 1000)
			c->pktout_tokens = burst * 1000;
		c->pktout_ms = now;
	}
	/* Tokens in thousandths: rate per second is per millisecond * 1000. */
	if (c->pktout_tokens < 1000)
		return false;
	c->pktout_tokens -= 1000;
	return true;
}

static int
send_netdev(int ifindex, const void *data, size_t len, struct cub_val **errv)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
	    .sll_ifindex = ifindex,
	    .sll_halen = ETH_ALEN};

	memcpy(sll.sll_addr, data, ETH_ALEN);
	if (sendto(pkt_fd, data, len, 0, (struct sockaddr *)&sll, sizeof(sll)) <
	    0)
		return ERR(CUB_E_KERNEL, "packet.out: send on ifindex %d: %s",
		    ifindex, strerror(errno));
	return 0;
}

/*
 * Into c's ingress as if received on port p; b->lock held.  *out_ifindex
 * is set when the broker must still send the (TC) result out of a netdev,
 * with the frame in outbuf, *outlen bytes; left 0 for a TC redirect the
 * broker cannot follow (made through a cube peer: the tail calls ran
 * inside the test run and the last redirect's netdev is lost).
 */
static int
ingress(struct cube *c, struct bport *p, const void *data, size_t len,
    int *out_ifindex, uint8_t *outbuf, size_t *outlen, uint32_t *verdict,
    struct cub_val **errv)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	int r;

	if (!c->obj || c->obj->prog_fd < 0)
		return ERR(CUB_E_UNAVAIL,
		    "packet.out: cube '%s' has no program loaded", c->name);
	struct cub_hopkey key = {0};
	uint32_t zero = 0;
	/* What a packet entering c by p runs first: the port's ingress
	 * stack of transparent cubes, if any, else the cube. */
	int entry = tcube_port_entry(c->svc->b, c, p->name);

	/* In band, a hop carries c's key (cube_shared.h). */
	if (c->hopkey_fd > 0)
		bpf_map_lookup_elem(c->hopkey_fd, &zero, &key);
	o.data_in = data;
	o.data_size_in = (uint32_t)len;
	o.repeat = 1;
	if (c->hook != HOOK_TC) {
		/* A port with a netdev: received on it.  A cube peer: the
		 * in-port in band, as the egress program hands it over. */
		static __thread uint8_t
		    hopped[sizeof(struct cub_hop) + 65536 + ETH_HLEN];
		struct cub_hop hop = {.magic = CUB_HOP_MAGIC,
		    .in_port = p->index,
		    .key = {key.key[0], key.key[1]}};
		bool band = p->cube_peer || p->ifindex <= 0;
		struct xdp_md md = {.data_end = (uint32_t)len,
		    .ingress_ifindex = band ? 0 : (uint32_t)p->ifindex};

		if (band) {
			memcpy(hopped, &hop, sizeof(hop));
			memcpy(hopped + sizeof(hop), data, len);
			o.data_in = hopped;
			o.data_size_in = (uint32_t)(len + sizeof(hop));
			md.data_end = o.data_size_in;
		}
		o.ctx_in = &md;
		o.ctx_size_in = sizeof(md);
		o.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
		r = bpf_prog_test_run_opts(
		    entry >= 0 ? entry : c->obj->prog_fd, &o);
		if (r)
			return ERR(CUB_E_KERNEL,
			    "packet.out: live frame into cube '%s': %s",
			    c->name, strerror(errno));
		*verdict = o.retval;
		return 0;
	}
	{
		struct __sk_buff skb = {0};

		/* A port with a netdev: received on it, as on XDP; a cube
		 * peer: the hop, with the key. */
		if (p->cube_peer || p->ifindex <= 0) {
			skb.cb[0] = key.key[0];
			skb.cb[1] = CUB_HOP_MAGIC;
			skb.cb[2] = CUB_HOP_TC_PORT(&key, p->index);
		} else {
			skb.ingress_ifindex = (uint32_t)p->ifindex;
		}
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
		o.ctx_out = &skb;
		o.ctx_size_out = sizeof(skb);
		o.data_out = outbuf;
		o.data_size_out = (uint32_t)*outlen;
		r = bpf_prog_test_run_opts(
		    entry >= 0 ? entry : c->obj->prog_fd, &o);
		if (r)
			return ERR(CUB_E_KERNEL,
			    "packet.out: run of cube '%s': %s", c->name,
			    strerror(errno));
		*verdict = o.retval;
		*outlen = o.data_size_out;
		if (o.retval == TC_ACT_REDIRECT) {
			struct bport *op = port_by_index(c, skb.cb[0]);

			/* Through a cube peer the tail calls went on and
			 * cb[0] is another cube's (the egress program marks
			 * cb[4] on a hop): follow none. */
			if (op && skb.cb[4] != CUB_HOP_MAGIC &&
			    !op->cube_peer && op->ifindex > 0)
				*out_ifindex = op->ifindex;
		}
	}
	return 0;
}

int
pktout_call(struct service *s, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *data = cub_val__get(p, "data");
	const char *name = cub_val__get_str(p, "cube");
	struct broker *b = s->b;
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	static __thread uint8_t outbuf[65536 + 256];
	size_t outlen = sizeof(outbuf);
	uint64_t port, flags;
	struct cube *c, *target;
	struct bport *bp, *tp;
	uint32_t verdict = 0;
	int ifindex = 0, r;
	unsigned mtu;
	bool delivered = true;

	if (!name)
		return ERR(CUB_E_MISSING, "packet.out: 'cube' missing");
	if (cub_val__as_u64(cub_val__get(p, "port"), &port) ||
	    port >= CUB_MAX_PORTS)
		return ERR(CUB_E_INVAL,
		    "packet.out: 'port' must be a port index below %d",
		    CUB_MAX_PORTS);
	if (cub_val__as_u64(cub_val__get(p, "flags"), &flags) ||
	    (flags != CUB_PKTOUT_EGRESS && flags != CUB_PKTOUT_INGRESS))
		return ERR(CUB_E_INVAL,
		    "packet.out: 'flags' must be CUB_PKTOUT_EGRESS (1) or "
		    "CUB_PKTOUT_INGRESS (2)");
	if (!data || data->kind != CUB_V_BIN || data->bin.len < ETH_HLEN ||
	    data->bin.len > 65535 + ETH_HLEN)
		return ERR(CUB_E_INVAL,
		    "packet.out: 'data' must be a frame of %d bytes to the "
		    "port's MTU + %d",
		    ETH_HLEN, ETH_HLEN);

	pthread_mutex_lock(&b->lock);
	c = cube_find(b, name);
	if (!c || c->svc != s) {
		pthread_mutex_unlock(&b->lock);
		return ERR(CUB_E_PERM,
		    "packet.out: cube '%s' is not a cube of service '%s'", name,
		    s->name);
	}
	bp = port_by_index(c, (uint32_t)port);
	if (!bp) {
		pthread_mutex_unlock(&b->lock);
		return ERR(CUB_E_NOTFOUND,
		    "packet.out: cube '%s' has no port with index %llu",
		    c->name, (unsigned long long)port);
	}
	if (pkt_fd < 0)
		pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (pkt_fd < 0) {
		pthread_mutex_unlock(&b->lock);
		return ERR(CUB_E_KERNEL, "packet.out: AF_PACKET socket: %s",
		    strerror(errno));
	}
	mtu = bp->ifindex > 0 && !bp->cube_peer ? dev_mtu(bp->ifindex) : 1500;
	if (data->bin.len > (size_t)mtu + ETH_HLEN) {
		pthread_mutex_unlock(&b->lock);
		return ERR(CUB_E_INVAL,
		    "packet.out: a frame of %u bytes is over port '%s''s "
		    "MTU %u + %d",
		    data->bin.len, bp->name, mtu, ETH_HLEN);
	}
	if (flags == CUB_PKTOUT_EGRESS && !bp->ifindex && !bp->cube_peer) {
		pthread_mutex_unlock(&b->lock);
		return ERR(CUB_E_UNAVAIL,
		    "packet.out: port '%s' of cube '%s' is not connected",
		    bp->name, c->name);
	}
	if (!bucket_take(b, c)) {
		__atomic_add_fetch(&c->pktout_dropped, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&b->lock);
		*res = cub_val__map();
		cub_val__set(*res, "sent", cub_val__bool(false));
		return 0;
	}
	target = c;
	tp = bp;
	if (flags == CUB_PKTOUT_EGRESS && bp->cube_peer) {
		/* The peer cube's ingress, on the port this one peers with. */
		target = topo_peer_split(bp->peer, cname, pname)
			     ? cube_find(b, cname)
			     : NULL;
		for (tp = target ? target->ports : NULL;
		     tp && strcmp(tp->name, pname); tp = tp->next)
			;
		if (!tp) {
			__atomic_add_fetch(
			    &c->pktout_dropped, 1, __ATOMIC_RELAXED);
			pthread_mutex_unlock(&b->lock);
			return ERR(CUB_E_UNAVAIL,
			    "packet.out: port '%s''s peer '%s' is not there",
			    bp->name, bp->peer);
		}
	}
	if (flags == CUB_PKTOUT_EGRESS && !bp->cube_peer) {
		ifindex = bp->ifindex;
		memcpy(outbuf, data->bin.ptr, data->bin.len);
		outlen = data->bin.len;
		r = 0;
	} else {
		r = ingress(target, tp, data->bin.ptr, data->bin.len, &ifindex,
		    outbuf, &outlen, &verdict, errv);
		if (!r && target->hook == HOOK_TC &&
		    verdict == TC_ACT_REDIRECT && !ifindex)
			delivered = false;
	}
	if (!r)
		__atomic_add_fetch(&c->pktout_sent, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&c->pktout_dropped, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&b->lock);
	if (r)
		return r;
	/* Sent off b->lock: the fd and the frame are this call's. */
	if (ifindex > 0 && outlen >= ETH_HLEN) {
		r = send_netdev(ifindex, outbuf, outlen, errv);
		if (r)
			return r;
	}
	*res = cub_val__map();
	cub_val__set(*res, "sent", cub_val__bool(true));
	cub_val__set(*res, "delivered", cub_val__bool(delivered));
	cub_val__set(*res, "verdict", cub_val__uint(verdict));
	return 0;
}

/*
 * A flood's copy from c's egress program (cube_shared.h, struct
 * cub_flood): into the ingress of each cube that a port of c peers with,
 * but in_port's and took's (the port the packet itself took), as a
 * packet-out of c out of that port would, under c's bucket.  Main
 * thread, from the slow path's drain, b->lock held.  Only c's own ports
 * are reached: a cube that writes such a record itself reaches no more
 * than cub_forward() would.
 */
void
pktout_flood(struct broker *b, struct cube *c, uint32_t in_port,
    uint32_t took, const void *data, size_t len)
{
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	static uint8_t outbuf[CUB_PKTIN_MAX + 256];
	struct bport *p, *tp;
	struct cube *target;
	struct cub_val *err = NULL;
	uint32_t verdict;
	size_t outlen;
	int ifindex, r;

	if (len < ETH_HLEN)
		return;
	if (pkt_fd < 0)
		pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	for (p = c->ports; p; p = p->next) {
		/* A port with an egress stack: its transparent cubes would
		 * not see the copy, so it gets none (fail closed). */
		if (!p->cube_peer || p->index == in_port || p->index == took ||
		    tcube_port_entry(b, c, p->name) >= 0 ||
		    !topo_peer_split(p->peer, cname, pname) ||
		    !(target = cube_find(b, cname)) ||
		    !(tp = topo_port(target, pname)))
			continue;
		if (!bucket_take(b, c)) {
			__atomic_add_fetch(
			    &c->pktout_dropped, 1, __ATOMIC_RELAXED);
			continue;
		}
		ifindex = 0;
		verdict = 0;
		outlen = sizeof(outbuf);
		r = ingress(target, tp, data, len, &ifindex, outbuf, &outlen,
		    &verdict, &err);
		if (!r && ifindex > 0 && outlen >= ETH_HLEN && pkt_fd >= 0)
			r = send_netdev(ifindex, outbuf, outlen, &err);
		err = cub_val__free(err);
		__atomic_add_fetch(r ? &c->pktout_dropped : &c->pktout_sent, 1,
		    __ATOMIC_RELAXED);
	}
}
