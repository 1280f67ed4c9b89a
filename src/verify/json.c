// SPDX-License-Identifier: LGPL-2.1-or-later
/* The report as JSON, through the library's one JSON writer (src/json.h). */
#include "json.h"
#include "verify/vf.h"

static const char *const fail_names[] = {
	"send",	 "wire",   "bytes",    "checksum", "sequence", "acknowledgement",
	"state", "socket", "delivery",
};

static void sock_json(struct sc_json *j, const char *name, const struct soccr_verify_sock *s)
{
	if (!s->valid) {
		sc_json_null(j, name);
		return;
	}
	sc_json_object(j, name);
	sc_json_string(j, "state", vf_state_name(s->state));
	sc_json_uint(j, "segs_in", s->segs_in);
	sc_json_uint(j, "bytes_received", s->bytes_received);
	sc_json_uint(j, "bytes_acked", s->bytes_acked);
	sc_json_uint(j, "unacked", s->unacked);
	if (s->repair)
		sc_json_uint(j, "rcv_nxt", s->rcv_nxt);
	if (s->have_write_seq)
		sc_json_uint(j, "write_seq", s->write_seq);
	sc_json_end_object(j);
}

SOCCR_API int soccr_verifier_json(const struct soccr_verifier *v, char **out)
{
	struct sc_json j = {0};
	size_t count[4] = {0};

	if (!v || !out)
		return -EINVAL;
	sc_json_object(&j, NULL);
	sc_json_array(&j, "segments");
	for (size_t i = 0; i < v->nseg; i++) {
		const struct soccr_verdict *vd = &v->segs[i].vd;
		char fl[9];

		count[vd->kind]++;
		vf_flags_str(vd->seg.flags, fl);
		sc_json_object(&j, NULL);
		sc_json_endpoint(&j, "src", vd->seg.family, &vd->seg.src, vd->seg.sport);
		sc_json_endpoint(&j, "dst", vd->seg.family, &vd->seg.dst, vd->seg.dport);
		sc_json_string(&j, "flags", fl);
		sc_json_uint(&j, "seq", vd->seg.seq);
		sc_json_uint(&j, "ack", vd->seg.ack);
		sc_json_uint(&j, "len", vd->seg.payload_len);
		sc_json_string(&j, "dev", vd->ifname);
		sc_json_string(&j, "verdict", soccr_verdict_name(vd->kind));
		sc_json_string(&j, "reason", vd->reason);
		sc_json_string(&j, "hint", vd->hint);
		sc_json_array(&j, "failed");
		for (size_t k = 0; k < ARRAY_SIZE(fail_names); k++)
			if (vd->failed & (1u << k))
				sc_json_string(&j, NULL, fail_names[k]);
		sc_json_end_array(&j);
		sc_json_object(&j, "seen");
		sc_json_uint(&j, "out", vd->seen_out);
		sc_json_uint(&j, "in", vd->seen_in);
		sc_json_uint(&j, "otherhost", vd->seen_other);
		sc_json_end_object(&j);
		if (vd->want_state)
			sc_json_string(&j, "expected_state", vf_state_name(vd->want_state));
		sock_json(&j, "before", &vd->before);
		sock_json(&j, "after", &vd->after);
		sc_json_end_object(&j);
	}
	sc_json_end_array(&j);
	sc_json_uint(&j, "absorbed", count[SOCCR_VERDICT_ABSORBED]);
	sc_json_uint(&j, "not_absorbed", count[SOCCR_VERDICT_NOT_ABSORBED]);
	sc_json_uint(&j, "not_seen", count[SOCCR_VERDICT_NOT_SEEN]);
	sc_json_uint(&j, "pending", count[SOCCR_VERDICT_PENDING]);
	sc_json_end_object(&j);
	*out = sc_json_take(&j);
	return *out ? 0 : -ENOMEM;
}
