// SPDX-License-Identifier: LGPL-2.1-or-later
/* The image format: round trips, and every kind of malformed image rejected with its own code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <soccr/image.h>

#include "tns.h"

/* Header offsets, as documented in the README field table. */
#define OFF_VERSION 8
#define OFF_HDR_LEN 10
#define OFF_FLAGS 12
#define OFF_TOTAL 16
#define OFF_DATA_LEN 32
#define OFF_RECVQ_LEN 36
#define OFF_SENDQ_LEN 40
#define OFF_FAMILY 44
#define OFF_LPORT 46
#define OFF_RESERVED 50
#define OFF_LADDR 52
#define OFF_HOSTNAME 84
#define OFF_DATA SOCCR_IMAGE_HDR_LEN
/* Offsets of fields of the socket data (17 uint32_t). */
#define OFF_D(i) (OFF_DATA + 4 * (i))
enum { D_STATE, D_INQ_LEN, D_INQ_SEQ, D_OUTQ_LEN, D_OUTQ_SEQ, D_UNSQ_LEN, D_OPT_MASK, D_MSS,
       D_SND_WSCALE, D_RCV_WSCALE, D_TIMESTAMP, D_FLAGS };

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Recompute the CRC after a deliberate edit, so the edit itself is what gets checked. */
static void fix_crc(unsigned char *b, size_t len)
{
	uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(len - 4));

	put32(b + len - 4, crc);
}

static void set_addr(union libsoccr_addr *a, int family, bool mapped, const char *ip, int port)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		a->v4.sin_family = AF_INET;
		a->v4.sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, ip, &a->v4.sin_addr), 1);
	} else {
		char buf[64];

		snprintf(buf, sizeof(buf), "%s%s", mapped ? "::ffff:" : "", ip);
		a->v6.sin6_family = AF_INET6;
		a->v6.sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, buf, &a->v6.sin6_addr), 1);
	}
}

/* A plausible ESTABLISHED socket with rlen/slen bytes of patterned queues. */
static void make_image(struct soccr_image *img, int family, bool mapped, uint32_t rlen,
		       uint32_t slen)
{
	memset(img, 0, sizeof(*img));
	img->flags = SOCCR_IMAGE_F_LOCKED;
	img->save_time_ns = 1700000000123456789ull;
	snprintf(img->hostname, sizeof(img->hostname), "origin-host");
	if (family == AF_INET || mapped) {
		img->family = mapped ? AF_INET6 : AF_INET;
		set_addr(&img->local, img->family, mapped, "10.1.2.1", 8080);
		set_addr(&img->peer, img->family, mapped, "10.1.2.2", 51234);
	} else {
		img->family = AF_INET6;
		set_addr(&img->local, AF_INET6, false, "fd00:1:2::1", 8080);
		set_addr(&img->peer, AF_INET6, false, "fd00:1:2::2", 51234);
	}
	img->data = (struct libsoccr_sk_data){
		.state = TCP_ESTABLISHED, .inq_len = rlen, .inq_seq = 0x11223344,
		.outq_len = slen, .outq_seq = 0xfffffff0, .unsq_len = slen / 2,
		.opt_mask = 0x7, .mss_clamp = 1448, .snd_wscale = 7, .rcv_wscale = 14,
		.timestamp = 123456, .flags = SOCCR_FLAGS_WINDOW, .snd_wl1 = 1, .snd_wnd = 2,
		.max_window = 3, .rcv_wnd = 4, .rcv_wup = 5,
	};
	if (rlen) {
		img->recvq = malloc(rlen);
		assert_non_null(img->recvq);
		tns_pattern(img->recvq, rlen, 0, 1);
	}
	if (slen) {
		img->sendq = malloc(slen);
		assert_non_null(img->sendq);
		tns_pattern(img->sendq, slen, 0, 2);
	}
}

static void assert_same(const struct soccr_image *a, const struct soccr_image *b)
{
	assert_int_equal(b->version, SOCCR_IMAGE_VERSION);
	assert_int_equal(a->flags, b->flags);
	assert_true(a->save_time_ns == b->save_time_ns);
	assert_string_equal(a->hostname, b->hostname);
	assert_int_equal(a->family, b->family);
	assert_memory_equal(&a->local, &b->local, sizeof(a->local));
	assert_memory_equal(&a->peer, &b->peer, sizeof(a->peer));
	assert_memory_equal(&a->data, &b->data, sizeof(a->data));
	if (a->data.inq_len)
		assert_memory_equal(a->recvq, b->recvq, a->data.inq_len);
	else
		assert_null(b->recvq);
	if (a->data.outq_len)
		assert_memory_equal(a->sendq, b->sendq, a->data.outq_len);
	else
		assert_null(b->sendq);
}

static void round_trip(int family, bool mapped, uint32_t rlen, uint32_t slen)
{
	struct soccr_image in, out;
	char err[256] = "";
	size_t len;
	void *buf;

	make_image(&in, family, mapped, rlen, slen);
	assert_int_equal(soccr_image_encode(&in, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, SOCCR_IMAGE_MIN_SIZE + rlen + slen);
	assert_memory_equal(buf, "SOCCRIMG", 8);
	assert_int_equal(soccr_image_decode(buf, len, &out, err, sizeof(err)), 0);
	assert_same(&in, &out);
	free(buf);
	soccr_image_free(&in);
	soccr_image_free(&out);
}

static void test_round_trip_v4_with_queues(void **state)
{
	(void)state;
	round_trip(AF_INET, false, 1000, 3000);
}

static void test_round_trip_v6_with_queues(void **state)
{
	(void)state;
	round_trip(AF_INET6, false, 17, 1);
}

static void test_round_trip_v4_mapped_keeps_inet6_family(void **state)
{
	(void)state;
	round_trip(AF_INET, true, 5, 7);
}

static void test_round_trip_empty_queues(void **state)
{
	(void)state;
	round_trip(AF_INET, false, 0, 0);
	round_trip(AF_INET6, false, 0, 0);
}

static void test_round_trip_large_queues(void **state)
{
	(void)state;
	round_trip(AF_INET6, false, 4u << 20, 6u << 20);
}

static void test_encoding_is_little_endian_at_documented_offsets(void **state)
{
	struct soccr_image in;
	unsigned char *b;
	size_t len;
	void *buf;

	(void)state;
	make_image(&in, AF_INET, false, 3, 5);
	assert_int_equal(soccr_image_encode(&in, &buf, &len, NULL, 0), 0);
	b = buf;
	assert_int_equal(b[OFF_VERSION], 1);
	assert_int_equal(b[OFF_VERSION + 1], 0);
	assert_int_equal(b[OFF_HDR_LEN] | b[OFF_HDR_LEN + 1] << 8, SOCCR_IMAGE_HDR_LEN);
	assert_int_equal(b[OFF_TOTAL], len & 0xff);
	assert_int_equal(b[OFF_RECVQ_LEN], 3);
	assert_int_equal(b[OFF_SENDQ_LEN], 5);
	assert_int_equal(b[OFF_FAMILY], 2);
	/* Port 8080 = 0x1f90, little-endian number; address in network order. */
	assert_int_equal(b[OFF_LPORT], 0x90);
	assert_int_equal(b[OFF_LPORT + 1], 0x1f);
	assert_int_equal(b[OFF_LADDR], 10);
	assert_int_equal(b[OFF_LADDR + 3], 1);
	assert_string_equal((char *)b + OFF_HOSTNAME, "origin-host");
	assert_int_equal(b[OFF_D(D_STATE)], TCP_ESTABLISHED);
	assert_int_equal(b[OFF_D(D_INQ_SEQ)], 0x44);
	assert_int_equal(b[OFF_D(D_INQ_SEQ) + 3], 0x11);
	assert_int_equal(b[OFF_D(D_RCV_WSCALE)], 14);
	assert_int_equal(b[len - 4] | b[len - 3] << 8 | b[len - 2] << 16 | (uint32_t)b[len - 1] << 24,
			 (uint32_t)crc32(0, b, (uInt)len - 4));
	free(buf);
	soccr_image_free(&in);
}

/* A small real image to break: 216 + 40 + 24 + 4 = 284 bytes. */
static unsigned char *small_image(size_t *len)
{
	struct soccr_image in;
	void *buf;

	make_image(&in, AF_INET6, false, 40, 24);
	assert_int_equal(soccr_image_encode(&in, &buf, len, NULL, 0), 0);
	soccr_image_free(&in);
	return buf;
}

static void expect(const unsigned char *b, size_t len, int code, const char *msg_part)
{
	struct soccr_image out;
	char err[256] = "";
	int ret;

	memset(&out, 0xa5, sizeof(out));
	ret = soccr_image_decode(b, len, &out, err, sizeof(err));
	if (ret != code || (msg_part && !strstr(err, msg_part)))
		fail_msg("expected %d (%s), got %d: '%s'", code, msg_part ? msg_part : "", ret,
			 err);
	if (ret == 0) {
		soccr_image_free(&out);
		return;
	}
	/* On error nothing is left to free. */
	assert_null(out.recvq);
	assert_null(out.sendq);
}

static void test_truncation_at_every_offset_is_truncated(void **state)
{
	unsigned char *b, *copy;
	char msg[128];
	size_t len;

	(void)state;
	b = small_image(&len);
	for (size_t k = 0; k < len; k++) {
		/* An exact-size copy, so ASan catches any read past the end. */
		copy = malloc(k ? k : 1);
		assert_non_null(copy);
		memcpy(copy, b, k);
		if (k >= SOCCR_IMAGE_HDR_LEN)
			snprintf(msg, sizeof(msg), "truncated: header says %zu bytes, file has %zu",
				 len, k);
		else
			snprintf(msg, sizeof(msg), "truncated: file has %zu bytes", k);
		expect(copy, k, -ENODATA, msg);
		free(copy);
	}
	expect(b, len, 0, NULL);
	free(b);
}

/* What a flip of bit `bit` of byte `off` must be reported as. */
static int flip_code(size_t off, size_t len, unsigned bit)
{
	if (off < 8)
		return -EILSEQ;
	if (off < 10)
		return -EPROTONOSUPPORT;
	if (off < 12)
		return -EPROTO;
	if (off >= OFF_TOTAL && off < OFF_TOTAL + 8) {
		uint64_t total = len ^ ((uint64_t)1 << (8 * (off - OFF_TOTAL) + bit));

		if (total > SOCCR_IMAGE_MAX_SIZE)
			return -EFBIG;
		return total > len ? -ENODATA : -EOVERFLOW;
	}
	return -EBADMSG;
}

static void test_every_single_bit_flip_is_rejected_with_its_code(void **state)
{
	unsigned char *b;
	size_t len;

	(void)state;
	b = small_image(&len);
	/* The whole file: header, socket data, queues and the CRC itself. */
	for (size_t off = 0; off < len; off++)
		for (unsigned bit = 0; bit < 8; bit++) {
			b[off] ^= (unsigned char)(1u << bit);
			expect(b, len, flip_code(off, len, bit), NULL);
			b[off] ^= (unsigned char)(1u << bit);
		}
	expect(b, len, 0, NULL);
	free(b);
}

static void test_bad_crc_is_named(void **state)
{
	unsigned char *b;
	size_t len;

	(void)state;
	b = small_image(&len);
	b[len - 1] ^= 0x80;
	expect(b, len, -EBADMSG, "bad CRC");
	free(b);
}

static void test_wrong_magic_and_version_are_named(void **state)
{
	unsigned char *b;
	size_t len;

	(void)state;
	b = small_image(&len);
	b[0] = 'X';
	expect(b, len, -EILSEQ, "bad magic");
	expect(b, 3, -EILSEQ, "bad magic");
	b[0] = 'S';
	b[OFF_VERSION] = 7;
	expect(b, len, -EPROTONOSUPPORT, "unsupported version 7");
	b[OFF_VERSION] = 1;
	b[OFF_HDR_LEN] = 200;
	expect(b, len, -EPROTO, "bad header length 200");
	free(b);
}

static void test_huge_lengths_are_rejected_before_allocating(void **state)
{
	unsigned char *b;
	size_t len;

	(void)state;
	b = small_image(&len);
	put64(b + OFF_TOTAL, UINT64_MAX);
	expect(b, len, -EFBIG, "too large");
	put64(b + OFF_TOTAL, (uint64_t)SOCCR_IMAGE_MAX_SIZE + 1);
	expect(b, len, -EFBIG, "limit is 268435456");
	put64(b + OFF_TOTAL, SOCCR_IMAGE_MAX_SIZE);
	expect(b, len, -ENODATA, "truncated: header says 268435456 bytes");
	put64(b + OFF_TOTAL, len);

	/* Queue lengths that do not fit the file, with a valid CRC. */
	put32(b + OFF_RECVQ_LEN, UINT32_MAX);
	fix_crc(b, len);
	expect(b, len, -ERANGE, "do not add up");
	put32(b + OFF_RECVQ_LEN, 40);
	put32(b + OFF_SENDQ_LEN, UINT32_MAX - 39);
	fix_crc(b, len);
	expect(b, len, -ERANGE, "do not add up");
	free(b);
}

static void test_trailing_data_is_rejected(void **state)
{
	unsigned char *b, *big;
	size_t len;

	(void)state;
	b = small_image(&len);
	big = calloc(1, len + 1);
	assert_non_null(big);
	memcpy(big, b, len);
	expect(big, len + 1, -EOVERFLOW, "trailing data");
	free(big);
	free(b);
}

struct field_case {
	const char *name;
	size_t off;
	uint32_t value;
	int width;
	int code;
	const char *msg;
};

static void test_invalid_fields_with_valid_crc_are_named(void **state)
{
	static const struct field_case cases[] = {
		{ "state LISTEN", OFF_D(D_STATE), TCP_LISTEN, 4, -EINVAL, "unsupported TCP state 10" },
		{ "state 0", OFF_D(D_STATE), 0, 4, -EINVAL, "unsupported TCP state 0" },
		{ "state huge", OFF_D(D_STATE), 0xdeadbeef, 4, -EINVAL, "unsupported TCP state" },
		{ "inq_len != recvq", OFF_D(D_INQ_LEN), 39, 4, -EINVAL, "differs from inq_len 39" },
		{ "outq_len != sendq", OFF_D(D_OUTQ_LEN), 25, 4, -EINVAL,
		  "differs from outq_len 25" },
		{ "unsq > outq", OFF_D(D_UNSQ_LEN), 25, 4, -EINVAL, "unsq_len 25 exceeds" },
		{ "snd_wscale 15", OFF_D(D_SND_WSCALE), 15, 4, -EINVAL, "window scale" },
		{ "rcv_wscale 15", OFF_D(D_RCV_WSCALE), 15, 4, -EINVAL, "window scale" },
		{ "mss huge", OFF_D(D_MSS), 70000, 4, -EINVAL, "mss_clamp" },
		{ "opt mask", OFF_D(D_OPT_MASK), 0x100, 4, -EINVAL, "unknown TCP options" },
		{ "data flags", OFF_D(D_FLAGS), 0x2, 4, -EINVAL, "unknown socket data flags" },
		{ "family 3", OFF_FAMILY, 3, 2, -EINVAL, "bad address family 3" },
		{ "family AF_INET", OFF_FAMILY, 2, 2, -EINVAL, "non-zero padding" },
		{ "local port 0", OFF_LPORT, 0, 2, -EINVAL, "local port is 0" },
		{ "reserved", OFF_RESERVED, 1, 2, -EINVAL, "reserved" },
		{ "image flags", OFF_FLAGS, 0x80, 4, -EINVAL, "unknown image flags" },
		{ "hostname unterminated", OFF_HOSTNAME + 60, 0x41414141, 4, -EINVAL,
		  "hostname" },
		{ "hostname control byte", OFF_HOSTNAME, 0x01, 1, -EINVAL, "non-printable" },
		{ "data length", OFF_DATA_LEN, 64, 4, -EPROTO, "bad socket data length 64" },
	};
	unsigned char *b, *orig;
	size_t len;

	(void)state;
	orig = small_image(&len);
	b = malloc(len);
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct field_case *c = &cases[i];

		memcpy(b, orig, len);
		if (c->width == 4)
			put32(b + c->off, c->value);
		else if (c->width == 2) {
			b[c->off] = (unsigned char)c->value;
			b[c->off + 1] = (unsigned char)(c->value >> 8);
		} else {
			b[c->off] = (unsigned char)c->value;
		}
		fix_crc(b, len);
		print_message("case %s\n", c->name);
		expect(b, len, c->code, c->msg);
	}
	free(b);
	free(orig);
}

static void test_mixed_mapped_addresses_are_invalid(void **state)
{
	struct soccr_image in;
	char err[256] = "";
	size_t len;
	void *buf = NULL;

	(void)state;
	make_image(&in, AF_INET6, false, 0, 0);
	set_addr(&in.peer, AF_INET6, true, "10.1.2.2", 51234);
	assert_int_equal(soccr_image_encode(&in, &buf, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "v4-mapped"));
	assert_null(buf);
	soccr_image_free(&in);
}

static void test_encode_refuses_an_invalid_image(void **state)
{
	struct soccr_image in;
	char err[256] = "";
	size_t len;
	void *buf = NULL;

	(void)state;
	make_image(&in, AF_INET, false, 0, 0);
	in.data.state = TCP_LISTEN;
	assert_int_equal(soccr_image_encode(&in, &buf, &len, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unsupported TCP state 10 (LISTEN)");
	in.data.state = TCP_ESTABLISHED;
	in.data.inq_len = 10;	/* no receive queue buffer */
	assert_int_equal(soccr_image_encode(&in, &buf, &len, err, sizeof(err)), -EINVAL);
	in.data.inq_len = SOCCR_IMAGE_MAX_SIZE;
	in.recvq = (char *)"x";
	assert_int_equal(soccr_image_encode(&in, &buf, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "limit"));
	in.recvq = NULL;
	assert_null(buf);
	soccr_image_free(&in);
}

static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_file_save_load_round_trip_leaves_no_temporary(void **state)
{
	char dir[] = "/tmp/soccr-image-XXXXXX", path[64], err[256] = "";
	struct soccr_image in, out;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/conn.img", dir);
	make_image(&in, AF_INET6, true, 100, 200);
	assert_int_equal(soccr_image_save(path, &in, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, SOCCR_IMAGE_MIN_SIZE + 300);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(soccr_image_load(path, &out, err, sizeof(err)), 0);
	assert_same(&in, &out);
	soccr_image_free(&out);

	/* Overwriting replaces the file whole. */
	soccr_image_free(&in);
	make_image(&in, AF_INET, false, 0, 1);
	assert_int_equal(soccr_image_save(path, &in, err, sizeof(err)), 0);
	assert_int_equal(soccr_image_load(path, &out, err, sizeof(err)), 0);
	assert_same(&in, &out);
	assert_int_equal(count_entries(dir), 1);
	soccr_image_free(&out);
	soccr_image_free(&in);
	unlink(path);
	rmdir(dir);
}

static void test_load_names_the_file_and_the_problem(void **state)
{
	char dir[] = "/tmp/soccr-image-XXXXXX", path[64], err[256] = "", want[128];
	struct soccr_image out;
	unsigned char *b;
	size_t len;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/image.bin", dir);
	b = small_image(&len);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, 200), 200);
	close(fd);
	assert_int_equal(soccr_image_load(path, &out, err, sizeof(err)), -ENODATA);
	snprintf(want, sizeof(want), "%s: truncated: header says %zu bytes, file has 200", path,
		 len);
	assert_string_equal(err, want);

	unlink(path);
	assert_int_equal(soccr_image_load(path, &out, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(soccr_image_load(dir, &out, err, sizeof(err)), -EISDIR);
	free(b);
	rmdir(dir);
}

static void test_oversized_file_is_refused_without_reading(void **state)
{
	char dir[] = "/tmp/soccr-image-XXXXXX", path[64], err[256] = "";
	struct soccr_image out;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/huge.img", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	/* Sparse: costs no disk. */
	assert_int_equal(ftruncate(fd, (off_t)SOCCR_IMAGE_MAX_SIZE + 1), 0);
	close(fd);
	assert_int_equal(soccr_image_load(path, &out, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "too large"));
	unlink(path);
	rmdir(dir);
}

static void test_save_to_missing_directory_fails_cleanly(void **state)
{
	struct soccr_image in;
	char err[256] = "";

	(void)state;
	make_image(&in, AF_INET, false, 1, 1);
	assert_int_equal(soccr_image_save("/nonexistent-soccr-dir/x.img", &in, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent-soccr-dir/x.img"));
	soccr_image_free(&in);
}

static void test_state_names_and_supported_states(void **state)
{
	(void)state;
	assert_string_equal(soccr_tcp_state_name(TCP_ESTABLISHED), "ESTABLISHED");
	assert_string_equal(soccr_tcp_state_name(TCP_CLOSING), "CLOSING");
	assert_string_equal(soccr_tcp_state_name(0), "UNKNOWN");
	assert_string_equal(soccr_tcp_state_name(99), "UNKNOWN");
	assert_true(soccr_image_state_supported(TCP_FIN_WAIT2));
	assert_true(soccr_image_state_supported(TCP_SYN_SENT));
	assert_false(soccr_image_state_supported(TCP_LISTEN));
	assert_false(soccr_image_state_supported(TCP_TIME_WAIT));
	assert_false(soccr_image_state_supported(TCP_SYN_RECV));
}

/* ---- sets (format version 2) --------------------------------------------------------- */

#define SET_OFF_COUNT 36
#define SET_OFF_RESERVED 104
#define REC_OFF_KIND 4
#define REC_OFF_FD 8

/* A set: a v4 listener (fd 3), a v6 connection with queues (fd 7), a v4 one without (fd 9). */
static void make_set(struct soccr_image_set *set)
{
	memset(set, 0, sizeof(*set));
	set->save_time_ns = 1700000000987654321ull;
	set->pid = 4242;
	snprintf(set->hostname, sizeof(set->hostname), "origin-host");
	set->n = 3;
	set->socks = calloc(3, sizeof(*set->socks));
	assert_non_null(set->socks);
	set->socks[0].kind = SOCCR_IMAGE_LISTEN;
	set->socks[0].fd = 3;
	set->socks[0].listen.family = AF_INET;
	set_addr(&set->socks[0].listen.local, AF_INET, false, "10.1.2.1", 8080);
	set->socks[0].listen.backlog = 128;
	set->socks[0].listen.opts = SOCCR_LISTEN_REUSEADDR | SOCCR_LISTEN_REUSEPORT;
	set->socks[0].listen.pending = 2;
	set->socks[1].kind = SOCCR_IMAGE_CONN;
	set->socks[1].fd = 7;
	make_image(&set->socks[1].conn, AF_INET6, false, 1000, 3000);
	set->socks[2].kind = SOCCR_IMAGE_CONN;
	set->socks[2].fd = 9;
	make_image(&set->socks[2].conn, AF_INET, false, 0, 0);
}

static unsigned char *encode_set(const struct soccr_image_set *set, size_t *len)
{
	char err[256] = "";
	void *buf = NULL;

	assert_int_equal(soccr_image_set_encode(set, &buf, len, err, sizeof(err)), 0);
	return buf;
}

static void test_set_round_trip_keeps_every_socket(void **state)
{
	struct soccr_image_set in, out;
	struct soccr_image one;
	char err[256] = "";
	unsigned char *b;
	size_t len;

	(void)state;
	make_set(&in);
	b = encode_set(&in, &len);
	assert_int_equal(b[OFF_VERSION], SOCCR_IMAGE_SET_VERSION);
	/* The single-image decoder refuses a set, naming its version. */
	assert_int_equal(soccr_image_decode(b, len, &one, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_int_equal(soccr_image_set_decode(b, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.version, SOCCR_IMAGE_SET_VERSION);
	assert_int_equal(out.pid, 4242);
	assert_true(out.save_time_ns == in.save_time_ns);
	assert_string_equal(out.hostname, "origin-host");
	assert_int_equal(out.n, 3);
	assert_int_equal(out.socks[0].kind, SOCCR_IMAGE_LISTEN);
	assert_int_equal(out.socks[0].fd, 3);
	assert_memory_equal(&out.socks[0].listen, &in.socks[0].listen,
			    sizeof(out.socks[0].listen));
	for (int i = 1; i < 3; i++) {
		assert_int_equal(out.socks[i].kind, SOCCR_IMAGE_CONN);
		assert_int_equal(out.socks[i].fd, in.socks[i].fd);
		assert_same(&in.socks[i].conn, &out.socks[i].conn);
	}
	soccr_image_set_free(&out);
	soccr_image_set_free(&in);
	assert_null(in.socks);
	free(b);
}

static void test_a_version_1_file_loads_as_a_set_of_one(void **state)
{
	struct soccr_image img;
	struct soccr_image_set out;
	char err[256] = "";
	void *b;
	size_t len;

	(void)state;
	make_image(&img, AF_INET, false, 10, 20);
	assert_int_equal(soccr_image_encode(&img, &b, &len, err, sizeof(err)), 0);
	assert_int_equal(soccr_image_set_decode(b, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.version, 1);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.socks[0].kind, SOCCR_IMAGE_CONN);
	assert_int_equal(out.socks[0].fd, -1);
	assert_same(&img, &out.socks[0].conn);
	soccr_image_set_free(&out);
	soccr_image_free(&img);
	free(b);
}

static void test_set_truncation_bit_flips_and_trailing_bytes_are_rejected(void **state)
{
	struct soccr_image_set in, out;
	unsigned char *b, *c;
	char err[256];
	size_t len;

	(void)state;
	make_set(&in);
	b = encode_set(&in, &len);
	soccr_image_set_free(&in);
	for (size_t cut = 0; cut < len; cut++) {
		err[0] = '\0';
		assert_true(soccr_image_set_decode(b, cut, &out, err, sizeof(err)) < 0);
		assert_true(err[0]);
	}
	c = malloc(len + 1);
	assert_non_null(c);
	/* Every bit of the file matters: the CRC, or the field it changes, says so. */
	for (size_t off = 0; off < len; off += 7)
		for (unsigned bit = 0; bit < 8; bit += 3) {
			memcpy(c, b, len);
			c[off] ^= (unsigned char)(1u << bit);
			err[0] = '\0';
			assert_true(soccr_image_set_decode(c, len, &out, err, sizeof(err)) < 0);
			assert_true(err[0]);
		}
	memcpy(c, b, len);
	c[len] = 0;
	assert_int_equal(soccr_image_set_decode(c, len + 1, &out, err, sizeof(err)), -EOVERFLOW);
	free(c);
	free(b);
}

static void test_set_fields_with_valid_crc_are_named(void **state)
{
	struct soccr_image_set in, out;
	unsigned char *b;
	char err[256];
	size_t len, rec1 = SOCCR_IMAGE_SET_HDR_LEN;

	(void)state;
	make_set(&in);
	b = encode_set(&in, &len);
	soccr_image_set_free(&in);
	/* More sockets than records. */
	put32(b + SET_OFF_COUNT, 4);
	fix_crc(b, len);
	assert_int_equal(soccr_image_set_decode(b, len, &out, err, sizeof(err)), -ERANGE);
	/* A count no file could hold is refused before anything is allocated for it. */
	put32(b + SET_OFF_COUNT, 1000000);
	fix_crc(b, len);
	assert_int_equal(soccr_image_set_decode(b, len, &out, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "do not fit"));
	put32(b + SET_OFF_COUNT, 3);
	/* Reserved header bytes. */
	b[SET_OFF_RESERVED] = 1;
	fix_crc(b, len);
	assert_int_equal(soccr_image_set_decode(b, len, &out, err, sizeof(err)), -EINVAL);
	b[SET_OFF_RESERVED] = 0;
	/* An unknown kind. */
	b[rec1 + REC_OFF_KIND] = 9;
	fix_crc(b, len);
	assert_int_equal(soccr_image_set_decode(b, len, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "socket 0: unknown kind 9"));
	b[rec1 + REC_OFF_KIND] = SOCCR_IMAGE_LISTEN;
	/* fd -2. */
	put32(b + rec1 + REC_OFF_FD, (uint32_t)-2);
	fix_crc(b, len);
	assert_int_equal(soccr_image_set_decode(b, len, &out, err, sizeof(err)), -EINVAL);
	put32(b + rec1 + REC_OFF_FD, 3);
	/* A listener with backlog 0, then with port 0. */
	put32(b + rec1 + SOCCR_IMAGE_REC_HDR_LEN + 20, 0);
	fix_crc(b, len);
	assert_int_equal(soccr_image_set_decode(b, len, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "backlog 0"));
	put32(b + rec1 + SOCCR_IMAGE_REC_HDR_LEN + 20, 128);
	b[rec1 + SOCCR_IMAGE_REC_HDR_LEN + 2] = 0;
	b[rec1 + SOCCR_IMAGE_REC_HDR_LEN + 3] = 0;
	fix_crc(b, len);
	assert_int_equal(soccr_image_set_decode(b, len, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port is 0"));
	free(b);
}

static void test_set_encode_refuses_an_invalid_set(void **state)
{
	struct soccr_image_set in;
	char err[256] = "";
	void *b = NULL;
	size_t len, n;

	(void)state;
	make_set(&in);
	in.socks[0].listen.opts = SOCCR_LISTEN_V6ONLY; /* on an IPv4 listener */
	assert_int_equal(soccr_image_set_encode(&in, &b, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "socket 0: listener: V6ONLY"));
	in.socks[0].listen.opts = 0;
	in.socks[2].conn.data.state = TCP_LISTEN; /* a listener dressed as a connection */
	assert_int_equal(soccr_image_set_encode(&in, &b, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "socket 2: unsupported TCP state"));
	in.socks[2].conn.data.state = TCP_ESTABLISHED;
	n = in.n;
	in.n = 0;
	assert_int_equal(soccr_image_set_encode(&in, &b, &len, err, sizeof(err)), -EINVAL);
	in.n = n;
	assert_null(b);
	soccr_image_set_free(&in);
}

static void test_set_file_round_trip(void **state)
{
	struct soccr_image_set in, out;
	char dir[] = "/tmp/soccr-set-XXXXXX", path[64], err[256] = "";

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/set.img", dir);
	make_set(&in);
	assert_int_equal(soccr_image_set_save(path, &in, err, sizeof(err)), 0);
	assert_int_equal(soccr_image_set_load(path, &out, err, sizeof(err)), 0);
	assert_int_equal(out.n, 3);
	assert_same(&in.socks[1].conn, &out.socks[1].conn);
	assert_int_equal(count_entries(dir), 1);
	soccr_image_set_free(&in);
	soccr_image_set_free(&out);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_v4_with_queues),
		cmocka_unit_test(test_round_trip_v6_with_queues),
		cmocka_unit_test(test_round_trip_v4_mapped_keeps_inet6_family),
		cmocka_unit_test(test_round_trip_empty_queues),
		cmocka_unit_test(test_round_trip_large_queues),
		cmocka_unit_test(test_encoding_is_little_endian_at_documented_offsets),
		cmocka_unit_test(test_truncation_at_every_offset_is_truncated),
		cmocka_unit_test(test_every_single_bit_flip_is_rejected_with_its_code),
		cmocka_unit_test(test_bad_crc_is_named),
		cmocka_unit_test(test_wrong_magic_and_version_are_named),
		cmocka_unit_test(test_huge_lengths_are_rejected_before_allocating),
		cmocka_unit_test(test_trailing_data_is_rejected),
		cmocka_unit_test(test_invalid_fields_with_valid_crc_are_named),
		cmocka_unit_test(test_mixed_mapped_addresses_are_invalid),
		cmocka_unit_test(test_encode_refuses_an_invalid_image),
		cmocka_unit_test(test_file_save_load_round_trip_leaves_no_temporary),
		cmocka_unit_test(test_load_names_the_file_and_the_problem),
		cmocka_unit_test(test_oversized_file_is_refused_without_reading),
		cmocka_unit_test(test_save_to_missing_directory_fails_cleanly),
		cmocka_unit_test(test_state_names_and_supported_states),
		cmocka_unit_test(test_set_round_trip_keeps_every_socket),
		cmocka_unit_test(test_a_version_1_file_loads_as_a_set_of_one),
		cmocka_unit_test(test_set_truncation_bit_flips_and_trailing_bytes_are_rejected),
		cmocka_unit_test(test_set_fields_with_valid_crc_are_named),
		cmocka_unit_test(test_set_encode_refuses_an_invalid_set),
		cmocka_unit_test(test_set_file_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
