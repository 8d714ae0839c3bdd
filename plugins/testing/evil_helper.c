// SPDX-License-Identifier: BSD-2-Clause
/*
 * evil's "helper" action: runs a registered helper with cub_helper__run()
 * and returns its output, so tests/integration/helper.sh sees what reached
 * the worker.  The broker's refusal is the action's error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/proto.h"
#include "evil_helper.h"

const struct cub_field evil_helper_args[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_REQUIRED,
	.help = "the helper to run"},
    {.name = "input", .type = CUB_T_STR, .help = "its stdin"},
    {.name = "repeat",
	.type = CUB_T_U32,
	.help = "send the input this many times over"},
    {0},
};

int
evil_helper_action(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result)
{
	const char *in = cub_val__get_str(args, "input") ?: "";
	uint64_t rep = 1;
	size_t len = strlen(in), outlen, i;
	char *buf;
	void *out;
	int r;

	if (cub_val__get(args, "repeat") &&
	    (cub_val__as_u64(cub_val__get(args, "repeat"), &rep) || !rep ||
		rep * len > CUB_HELPER_IO_MAX))
		return -EINVAL;
	buf = malloc(rep * len + 1);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < rep; i++)
		memcpy(buf + i * len, in, len);
	r = cub_helper__run(cube, cub_val__get_str(args, "name"), buf,
	    rep * len, &out, &outlen, NULL);
	free(buf);
	if (r)
		return r;
	*result = cub_val__map();
	cub_val__set(*result, "bytes", cub_val__uint(outlen));
	/* Text only (a CUB_V_STR holds no NUL): the tests' helper prints. */
	cub_val__set(*result, "output",
	    memchr(out, 0, outlen)
		? cub_val__str("(binary)")
		: cub_val__strn(out, outlen > 4096 ? 4096 : outlen));
	free(out);
	return 0;
}
