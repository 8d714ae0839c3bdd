// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* hl4, form HL4_TABLE (hl4.bpf.h). */
#define HL4_FORM HL4_TABLE
#include "hl4.bpf.h"
