/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <soccr/image.h>: the on-disk image of one checkpointed TCP socket.
 *
 * An image holds what libsoccr_save() read (struct libsoccr_sk_data, the
 * addresses, both queues) plus metadata. The format is versioned, every
 * number is a little-endian fixed-width field, every variable part has an
 * explicit length, and a CRC-32 (zlib's, ISO-HDLC polynomial) over the whole
 * file closes it. The README has the field table.
 *
 * Loading validates every field; each class of problem has its own return
 * code and a one-line message naming it, so a caller can print
 * "image.bin: truncated: header says 4120 bytes, file has 300":
 *
 *   -ENODATA          truncated: the file is shorter than its header or than
 *                     the total length the header announces
 *   -EILSEQ           bad magic: not a soccr image
 *   -EPROTONOSUPPORT  unsupported format version
 *   -EPROTO           bad header or socket-data length for this version
 *   -EFBIG            announced total length above SOCCR_IMAGE_MAX_SIZE
 *   -EOVERFLOW        trailing bytes after the announced total length
 *   -EBADMSG          CRC mismatch: the contents are corrupt
 *   -ERANGE           the section lengths do not add up to the total length
 *   -EINVAL           a field has an invalid value (state, family, address,
 *                     port, queue length vs inq_len/outq_len, unsq_len,
 *                     window scale, flags, hostname, reserved bytes)
 *   -ENOMEM           out of memory
 *   other -errno      from open()/read()/write() for the file functions
 *
 * Nothing is ever allocated before the lengths have been checked against the
 * real size of the input, and never more than SOCCR_IMAGE_MAX_SIZE.
 */
#ifndef SOCCR_IMAGE_H
#define SOCCR_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include <soccr/soccr.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "SOCCRIMG" */
#define SOCCR_IMAGE_MAGIC "SOCCRIMG"
#define SOCCR_IMAGE_MAGIC_LEN 8
#define SOCCR_IMAGE_VERSION 1
/* Fixed header of version 1, before the socket data. */
#define SOCCR_IMAGE_HDR_LEN 148
/* struct libsoccr_sk_data on disk: 17 little-endian uint32_t. */
#define SOCCR_IMAGE_DATA_LEN 68
#define SOCCR_IMAGE_CRC_LEN 4
/* Smallest valid image: header, socket data, CRC, empty queues. */
#define SOCCR_IMAGE_MIN_SIZE (SOCCR_IMAGE_HDR_LEN + SOCCR_IMAGE_DATA_LEN + SOCCR_IMAGE_CRC_LEN)
/* Largest image loaded or written: 256 MiB. */
#define SOCCR_IMAGE_MAX_SIZE (256u << 20)
#define SOCCR_IMAGE_HOSTNAME_LEN 64

/* Image flags. */
/* The flow was locked (soccr_lock_add) when it was saved: restore unlocks it. */
#define SOCCR_IMAGE_F_LOCKED 0x1
#define SOCCR_IMAGE_F_ALL SOCCR_IMAGE_F_LOCKED

/*
 * An image in memory. family is the socket's own family: AF_INET, or
 * AF_INET6 (a v4-mapped connection is AF_INET6 with ::ffff:a.b.c.d
 * addresses on both ends). local and peer carry addresses and ports in the
 * usual sockaddr form (network byte order). recvq/sendq hold data.inq_len
 * and data.outq_len bytes, malloc()ed, NULL when empty; soccr_image_free()
 * frees them.
 */
struct soccr_image {
	uint32_t version;		/* on load: the file's; ignored on save (always current) */
	uint32_t flags;			/* SOCCR_IMAGE_F_* */
	uint64_t save_time_ns;		/* CLOCK_REALTIME at save, ns since the epoch */
	char hostname[SOCCR_IMAGE_HOSTNAME_LEN];	/* NUL-terminated, printable ASCII */
	int family;
	union libsoccr_addr local, peer;
	struct libsoccr_sk_data data;
	char *recvq;
	char *sendq;
};

/*
 * Check an in-memory image (the same checks as loading, less the file
 * structure). Returns 0 or -EINVAL; err (errlen bytes, may be NULL) gets a
 * one-line message.
 */
int soccr_image_validate(const struct soccr_image *img, char *err, size_t errlen);

/*
 * Parse and validate len bytes at buf into img (whose previous contents are
 * overwritten, not freed). Returns 0, or a negative code from the table above
 * with a message in err (may be NULL). On error img holds nothing to free.
 */
int soccr_image_decode(const void *buf, size_t len, struct soccr_image *img, char *err,
		       size_t errlen);

/*
 * Validate img and serialise it into a malloc()ed buffer (*buf, *len) that
 * the caller frees. The version written is always SOCCR_IMAGE_VERSION.
 * Returns 0, -EINVAL (message in err), -EFBIG or -ENOMEM.
 */
int soccr_image_encode(const struct soccr_image *img, void **buf, size_t *len, char *err,
		       size_t errlen);

/*
 * Read and decode the file at path ("-": stdin). Messages start with the
 * path. The file size is checked against SOCCR_IMAGE_MAX_SIZE before
 * anything is read.
 */
int soccr_image_load(const char *path, struct soccr_image *img, char *err, size_t errlen);

/*
 * Encode img and write it to path atomically: a temporary file in the same
 * directory, fsync(), rename() over path ("-": to stdout). Returns 0 or a
 * negative errno (message in err); on error path is untouched and no
 * temporary file stays.
 */
int soccr_image_save(const char *path, const struct soccr_image *img, char *err, size_t errlen);

/* Free the queues of img and clear it. NULL is allowed. */
void soccr_image_free(struct soccr_image *img);

/*
 * A set of sockets: what `soccr save --pid` writes (format version 2), every
 * TCP socket of a process, listeners included. A version 1 file (one
 * connection) loads as a set of one.
 *
 * Version 2 layout (little-endian; the README has the field table): a
 * 112-byte header (magic, version 2, header length, flags, total length,
 * save time, pid, socket count, hostname), then one record per socket: a
 * 16-byte record header (record length, kind, the socket's fd number in the
 * saved process) and its body: for a connection, a complete version 1 image
 * (with its own magic and CRC); for a listener, 48 bytes (family, port,
 * address, backlog, options, connections pending at save). A CRC-32 of every
 * byte before it ends the file.
 */
#define SOCCR_IMAGE_SET_VERSION 2
#define SOCCR_IMAGE_SET_HDR_LEN 112
#define SOCCR_IMAGE_REC_HDR_LEN 16
#define SOCCR_IMAGE_LISTEN_LEN	48
/* Sockets in one set, at most. */
#define SOCCR_IMAGE_SET_MAX_SOCKS 1048576

/* soccr_image_sock.kind */
#define SOCCR_IMAGE_CONN   1	/* a connection: .conn */
#define SOCCR_IMAGE_LISTEN 2	/* a listening socket: .listen */

/* soccr_image_listener.opts: socket options re-applied before bind(). */
#define SOCCR_LISTEN_REUSEADDR	 0x01
#define SOCCR_LISTEN_REUSEPORT	 0x02
#define SOCCR_LISTEN_V6ONLY	 0x04
#define SOCCR_LISTEN_FREEBIND	 0x08
#define SOCCR_LISTEN_TRANSPARENT 0x10
#define SOCCR_LISTEN_ALL	 0x1f

struct soccr_image_listener {
	int family;			/* AF_INET or AF_INET6 */
	union libsoccr_addr local;	/* address and port (network order); port != 0 */
	uint32_t backlog;		/* as given to listen(), 1..65535 */
	uint32_t opts;			/* SOCCR_LISTEN_* */
	uint32_t pending;		/* connections waiting to be accepted at save (not saved) */
};

struct soccr_image_sock {
	uint32_t kind;			/* SOCCR_IMAGE_CONN or SOCCR_IMAGE_LISTEN */
	int32_t fd;			/* its fd number in the saved process, -1 if unknown */
	struct soccr_image conn;	/* kind CONN */
	struct soccr_image_listener listen; /* kind LISTEN */
};

struct soccr_image_set {
	uint32_t version;		/* on load: the file's (1 or 2); ignored on save */
	uint32_t flags;			/* none defined yet: 0 */
	uint64_t save_time_ns;
	char hostname[SOCCR_IMAGE_HOSTNAME_LEN];
	int32_t pid;			/* the saved process, 0 if unknown */
	size_t n;			/* 1 .. SOCCR_IMAGE_SET_MAX_SOCKS */
	struct soccr_image_sock *socks;	/* malloc()ed: soccr_image_set_free() */
};

/* The same contracts as the single-image calls above, for sets. */
int soccr_image_set_decode(const void *buf, size_t len, struct soccr_image_set *set, char *err,
			   size_t errlen);
int soccr_image_set_encode(const struct soccr_image_set *set, void **buf, size_t *len, char *err,
			   size_t errlen);
int soccr_image_set_load(const char *path, struct soccr_image_set *set, char *err, size_t errlen);
int soccr_image_set_save(const char *path, const struct soccr_image_set *set, char *err,
			 size_t errlen);
/* Free every socket's queues and the array, and clear set. NULL is allowed. */
void soccr_image_set_free(struct soccr_image_set *set);

/*
 * Name of a TCP state ("ESTABLISHED", "FIN_WAIT1", ...), or "UNKNOWN".
 * The states an image may hold are those soccr can restore: ESTABLISHED,
 * SYN_SENT, FIN_WAIT1, FIN_WAIT2, CLOSE, CLOSE_WAIT, LAST_ACK, CLOSING.
 */
const char *soccr_tcp_state_name(unsigned int state);

/* 1 if state is one an image may hold (see above), else 0. */
int soccr_image_state_supported(unsigned int state);

#ifdef __cplusplus
}
#endif

#endif /* SOCCR_IMAGE_H */
