// SPDX-License-Identifier: BSD-2-Clause
/*
 * evil's "helper" action: runs a registered helper with cub_helper__run()
 * and returns its output, so tests/integration/helper.sh sees what reached
 * the worker.  The broker's refusal is the action's error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/proto.h"
#include "evil_helper.h"

const struct cub_field evil_helper_args[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_REQUIRED,
	.help = "the helper to run"},
    {.name = "input",
	.type = CUB_T_STR,
	.max = 4096, /* the schema cap: dynmon-cc inputs as hex */
	.help = "its stdin"},
    {.name = "repeat",
	.type = CUB_T_U32,
	.help = "send the input this many times over"},
    {.name = "hex",
	.type = CUB_T_BOOL,
	.help = "the input is hex (binary stdin: dynmon-cc's MessagePack); "
		"the whole output comes back as hex"},
    {0},
};

int
evil_helper_action(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result)
{
	const char *in = cub_val__get_str(args, "input") ?: "";
	bool hex = false;
	uint64_t rep = 1;
	size_t len = strlen(in), outlen, i;
	char *buf;
	void *out;
	int r;

	if (cub_val__get(args, "repeat") &&
	    (cub_val__as_u64(cub_val__get(args, "repeat"), &rep) || !rep ||
		rep * len > CUB_HELPER_IO_MAX))
		return -EINVAL;
	if (cub_val__get(args, "hex") &&
	    cub_val__as_bool(cub_val__get(args, "hex"), &hex))
		return -EINVAL;
	buf = malloc(rep * len + 1);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < rep; i++)
		memcpy(buf + i * len, in, len);
	buf[rep * len] = 0;
	if (hex) {
		if (len % 2) {
			free(buf);
			return -EINVAL;
		}
		for (i = 0; i < rep * len / 2; i++)
			if (sscanf(buf + 2 * i, "%2hhx", (unsigned char *)buf + i) !=
			    1) {
				free(buf);
				return -EINVAL;
			}
		len /= 2;
	}
	r = cub_helper__run(cube, cub_val__get_str(args, "name"), buf,
	    rep * len, &out, &outlen, NULL);
	free(buf);
	if (r)
		return r;
	*result = cub_val__map();
	cub_val__set(*result, "bytes", cub_val__uint(outlen));
	if (hex) {
		char *h = malloc(2 * outlen + 1);

		for (i = 0; h && i < outlen; i++)
			snprintf(h + 2 * i, 3, "%02x", ((unsigned char *)out)[i]);
		if (h)
			h[2 * outlen] = 0;
		cub_val__set(*result, "output", h ? cub_val__str(h) : cub_val__nil());
		free(h);
		free(out);
		return 0;
	}
	/* Text only (a CUB_V_STR holds no NUL): the tests' helper prints. */
	cub_val__set(*result, "output",
	    memchr(out, 0, outlen)
		? cub_val__str("(binary)")
		: cub_val__strn(out, outlen > 4096 ? 4096 : outlen));
	free(out);
	return 0;
}
