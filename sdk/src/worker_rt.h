/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker-side runtime of the plugin API (private): cubicle-worker
 * hands it the plugin and the socket to the broker, then feeds it every
 * request the broker sends.  One thread, one request at a time.
 */
#ifndef CUBI_WORKER_RT_H
#define CUBI_WORKER_RT_H

#include <stdbool.h>

#include <nng/nng.h>

#include "cubicle/plugin.h"
#include "cubicle/proto.h"

/*
 * Check the plugin's descriptor (its ABI, its sizes, no ops or fields past
 * what this worker knows) and copy its ops into *ops, zero past ops_sz,
 * and (desc not NULL) the descriptor into *desc, zero past its sz.
 * 0, or -EINVAL with a sentence in err.
 */
int cubi_plugin__check(const struct cub_plugin *pl, struct cub_plugin *desc,
    struct cub_plugin_ops *ops, char *err, size_t errlen);
/* calls: REQ socket dialed to the broker's worker-<svc>.sock. */
int cubi_worker__init(const struct cub_plugin *pl, nng_socket calls);
/*
 * A broker in the same process (libcubicle-fake, cubicle/fake.h): calls go
 * to fn instead of a socket; fn answers as cubi_call() does (0 with
 * *result, or a negative errno with *errv) and takes params.
 */
typedef int (*cubi_transport_fn)(const char *method, struct cub_val *params,
    struct cub_val **result, struct cub_val **errv);
int cubi_worker__init_local(const struct cub_plugin *pl, cubi_transport_fn fn);
/* Send hello (schema, policy); 0 or -errno with a message in err. */
int cubi_worker__hello(char *err, size_t errlen);
/* Handle one request from the broker; result/errv as for a response. */
void cubi_worker__dispatch(
    const struct cub_rpc *rpc, struct cub_val **result, struct cub_val **errv);

/* A packet.in notification: queue its packets for the plugin; nothing
 * is answered. */
void cubi_worker__notify(const struct cub_rpc *rpc);
/* Packets queued; hand the oldest to the plugin's packet_in. */
bool cubi_worker__packet_pending(void);
void cubi_worker__packet_next(void);
/* ms until the next tick is due (0: now), -1 when the plugin has no
 * ticks; run the ticks when due (true if they ran). */
int cubi_worker__tick_wait(void);
bool cubi_worker__tick_run(void);
/* Every cube's tick now (the fake's cub_fake__tick()); cubes ticked, or
 * -EOPNOTSUPP without a tick op. */
int cubi_worker__tick_all(void);

#endif
