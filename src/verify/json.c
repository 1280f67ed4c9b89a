// SPDX-License-Identifier: LGPL-2.1-or-later
/* The report as JSON. */
#include "verify/vf.h"

/* ---- JSON -------------------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		if (vf_grow((void **)&b->p, &b->cap, b->len + (size_t)n + 1, 1)) {
			b->oom = true;
			return;
		}
	}
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c < 0x20)
			sb_printf(b, "\\u%04x", c);
		else
			sb_printf(b, "%c", c);
	}
	sb_printf(b, "\"");
}

static const char *const fail_names[] = {
	"send",	 "wire",   "bytes",    "checksum", "sequence", "acknowledgement",
	"state", "socket", "delivery",
};

static void sb_sock(struct sbuf *b, const char *name, const struct soccr_verify_sock *s)
{
	if (!s->valid) {
		sb_printf(b, ",\"%s\":null", name);
		return;
	}
	sb_printf(b,
		  ",\"%s\":{\"state\":\"%s\",\"segs_in\":%u,\"bytes_received\":%llu,"
		  "\"bytes_acked\":%llu,\"unacked\":%u",
		  name, vf_state_name(s->state), s->segs_in, (unsigned long long)s->bytes_received,
		  (unsigned long long)s->bytes_acked, s->unacked);
	if (s->repair)
		sb_printf(b, ",\"rcv_nxt\":%u", s->rcv_nxt);
	if (s->have_write_seq)
		sb_printf(b, ",\"write_seq\":%u", s->write_seq);
	sb_printf(b, "}");
}

SOCCR_API int soccr_verifier_json(const struct soccr_verifier *v, char **out)
{
	struct sbuf b = {0};
	size_t count[4] = {0};

	if (!v || !out)
		return -EINVAL;
	*out = NULL;
	sb_printf(&b, "{\"segments\":[");
	for (size_t i = 0; i < v->nseg; i++) {
		const struct soccr_verdict *vd = &v->segs[i].vd;
		char flow[160], fl[9];
		bool first = true;

		count[vd->kind]++;
		vf_flow_str(&vd->seg, flow, sizeof(flow));
		vf_flags_str(vd->seg.flags, fl);
		sb_printf(&b, "%s{\"flow\":", i ? "," : "");
		sb_str(&b, flow);
		sb_printf(&b, ",\"flags\":\"%s\",\"seq\":%u,\"ack\":%u,\"len\":%zu,\"dev\":", fl,
			  vd->seg.seq, vd->seg.ack, vd->seg.payload_len);
		sb_str(&b, vd->ifname);
		sb_printf(&b, ",\"verdict\":\"%s\",\"reason\":", soccr_verdict_name(vd->kind));
		sb_str(&b, vd->reason);
		sb_printf(&b, ",\"hint\":");
		sb_str(&b, vd->hint);
		sb_printf(&b, ",\"failed\":[");
		for (size_t k = 0; k < ARRAY_SIZE(fail_names); k++)
			if (vd->failed & (1u << k)) {
				sb_printf(&b, "%s\"%s\"", first ? "" : ",", fail_names[k]);
				first = false;
			}
		sb_printf(&b, "],\"seen\":{\"out\":%u,\"in\":%u,\"otherhost\":%u}", vd->seen_out,
			  vd->seen_in, vd->seen_other);
		if (vd->want_state)
			sb_printf(&b, ",\"expected_state\":\"%s\"", vf_state_name(vd->want_state));
		sb_sock(&b, "before", &vd->before);
		sb_sock(&b, "after", &vd->after);
		sb_printf(&b, "}");
	}
	sb_printf(&b, "],\"absorbed\":%zu,\"not_absorbed\":%zu,\"not_seen\":%zu,\"pending\":%zu}",
		  count[SOCCR_VERDICT_ABSORBED], count[SOCCR_VERDICT_NOT_ABSORBED],
		  count[SOCCR_VERDICT_NOT_SEEN], count[SOCCR_VERDICT_PENDING]);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	return 0;
}
