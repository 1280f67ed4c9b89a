// SPDX-License-Identifier: LGPL-2.1-or-later
/* The locked flows: their keys in the map, added and removed alone or in batches, listed. */
#include "lock/lk.h"

/* ---- flows -------------------------------------------------------------------------- */

/* Same order as ep_above() in bpf/lockprog.bpf.c: words as native integers, then port. */
static bool ep_above(const __be32 *a, __be16 pa, const __be32 *b, __be16 pb)
{
	for (int i = 0; i < 4; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return pa > pb;
}

static int flow_key(const struct soccr_flow *f, struct soccr_lock_key *k, __u32 *local)
{
	__be32 s[4] = {0}, d[4] = {0};
	__be16 sp = htons(f->sport), dp = htons(f->dport);
	bool above;

	memset(k, 0, sizeof(*k));
	if (f->family == AF_INET) {
		s[0] = f->saddr.v4.s_addr;
		d[0] = f->daddr.v4.s_addr;
		k->family = SOCCR_LOCK_FAM_V4;
	} else if (f->family == AF_INET6) {
		memcpy(s, &f->saddr.v6, sizeof(s));
		memcpy(d, &f->daddr.v6, sizeof(d));
		k->family = SOCCR_LOCK_FAM_V6;
	} else {
		return -EAFNOSUPPORT;
	}
	above = ep_above(s, sp, d, dp);
	memcpy(k->addr[above], s, sizeof(s));
	memcpy(k->addr[!above], d, sizeof(d));
	k->port[above] = sp;
	k->port[!above] = dp;
	if (local)
		*local = above;
	return 0;
}

static void key_flow(const struct soccr_lock_key *k, __u32 local, struct soccr_flow *f)
{
	unsigned int l = local & 1, p = !l;

	memset(f, 0, sizeof(*f));
	if (k->family == SOCCR_LOCK_FAM_V4) {
		f->family = AF_INET;
		f->saddr.v4.s_addr = k->addr[l][0];
		f->daddr.v4.s_addr = k->addr[p][0];
	} else {
		f->family = AF_INET6;
		memcpy(&f->saddr.v6, k->addr[l], sizeof(f->saddr.v6));
		memcpy(&f->daddr.v6, k->addr[p], sizeof(f->daddr.v6));
	}
	f->sport = ntohs(k->port[l]);
	f->dport = ntohs(k->port[p]);
}

static int bad_flow(const char *what)
{
	pr_err("lock: %s: flow family must be AF_INET or AF_INET6", what);
	return -EAFNOSUPPORT;
}

SOCCR_API int soccr_lock_add(struct soccr_lock *lock, const struct soccr_flow *flow)
{
	struct soccr_lock_key k;
	struct soccr_lock_val v;
	int err;

	if (!lock || !flow)
		return -EINVAL;
	memset(&v, 0, sizeof(v));
	if (flow_key(flow, &k, &v.local))
		return bad_flow("add");
	/* BPF_NOEXIST: locking again must not reset the counters. */
	if (bpf_map_update_elem(lock->map_fd, &k, &v, BPF_NOEXIST) && errno != EEXIST) {
		err = -errno;
		pr_perror("lock: add flow%s", err == -E2BIG ? " (lock full)" : "");
		return err;
	}
	return 0;
}

SOCCR_API int soccr_lock_del(struct soccr_lock *lock, const struct soccr_flow *flow)
{
	struct soccr_lock_key k;
	int err;

	if (!lock || !flow)
		return -EINVAL;
	if (flow_key(flow, &k, NULL))
		return bad_flow("del");
	if (bpf_map_delete_elem(lock->map_fd, &k) && errno != ENOENT) {
		err = -errno;
		pr_perror("lock: delete flow");
		return err;
	}
	return 0;
}

/* The kernel rejects batch ops it does not implement with one of these. */
static bool batch_unsupported(int err)
{
	/* 524: the kernel-internal ENOTSUPP, which leaks out of some bpf() paths. */
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUP || err == -524;
}

/*
 * Run a batch update or delete over n keys, skipping the elements that fail
 * with skip_err (already there / not there), which the kernel reports by
 * stopping at them with count = the elements done before.
 */
static int run_batch(int fd, bool del, struct soccr_lock_key *keys, struct soccr_lock_val *vals,
		     size_t n, int skip_err)
{
	/* Batch updates accept no BPF_NOEXIST (only BPF_F_LOCK): they overwrite. */
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t done = 0;

	while (done < n) {
		__u32 cnt = (__u32)(n - done > UINT32_MAX ? UINT32_MAX : n - done);
		int err;

		if (del)
			err = bpf_map_delete_batch(fd, keys + done, &cnt, &opts);
		else
			err = bpf_map_update_batch(fd, keys + done, vals + done, &cnt, &opts);
		if (!err) {
			done = n;
			break;
		}
		err = -errno;
		/*
		 * The kernel writes back the count of elements done only once it
		 * has started on them; a check failing before leaves ours as is.
		 */
		if (err == skip_err && cnt < n - done) {
			done += cnt + 1;
			continue;
		}
		if (done == 0 && batch_unsupported(err))
			return 1; /* fall back to one call per flow */
		return err;
	}
	return 0;
}

static int batch(struct soccr_lock *lock, const struct soccr_flow *flows, size_t n, bool del)
{
	struct soccr_lock_key *keys = NULL;
	struct soccr_lock_val *vals = NULL;
	const char *what = del ? "del" : "add";
	int err = 0;

	if (!lock || (!flows && n))
		return -EINVAL;
	if (n > INT_MAX)
		return -E2BIG;
	if (!n)
		return 0;
	keys = malloc(n * sizeof(*keys));
	if (!del)
		vals = calloc(n, sizeof(*vals));
	if (!keys || (!del && !vals)) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (flow_key(&flows[i], &keys[i], del ? NULL : &vals[i].local)) {
			err = bad_flow(what);
			goto out;
		}

	err = run_batch(lock->map_fd, del, keys, vals, n, del ? -ENOENT : -EEXIST);
	if (err == 1) {
		pr_dbg("lock: batch %s not supported by the kernel, one call per flow", what);
		err = 0;
		for (size_t i = 0; i < n && !err; i++)
			err = del ? soccr_lock_del(lock, &flows[i])
				  : soccr_lock_add(lock, &flows[i]);
	} else if (err) {
		pr_err("lock: batch %s of %zu flows: %s%s", what, n, strerror(-err),
		       err == -E2BIG ? " (lock full)" : "");
	}
out:
	free(keys);
	free(vals);
	return err ? err : (int)n;
}

SOCCR_API int soccr_lock_add_batch(struct soccr_lock *lock, const struct soccr_flow *flows,
				   size_t n)
{
	return batch(lock, flows, n, false);
}

SOCCR_API int soccr_lock_del_batch(struct soccr_lock *lock, const struct soccr_flow *flows,
				   size_t n)
{
	return batch(lock, flows, n, true);
}

SOCCR_API int soccr_lock_list(struct soccr_lock *lock, struct soccr_lock_entry **entries, size_t *n)
{
	struct soccr_lock_entry *arr = NULL, *tmp;
	struct soccr_lock_key key, next;
	struct soccr_lock_val val;
	size_t cnt = 0, cap = 0;
	void *prev = NULL;
	int err = 0;

	if (!lock || !entries || !n)
		return -EINVAL;
	*entries = NULL;
	*n = 0;
	/* The map holds at most SOCCR_LOCK_MAX_FLOWS: a bound even if it changes under us. */
	while (cnt < SOCCR_LOCK_MAX_FLOWS) {
		if (bpf_map_get_next_key(lock->map_fd, prev, &next)) {
			if (errno != ENOENT) {
				err = -errno;
				pr_perror("lock: list flows");
			}
			break;
		}
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(lock->map_fd, &key, &val))
			continue; /* deleted meanwhile */
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			tmp = realloc(arr, cap * sizeof(*arr));
			if (!tmp) {
				err = -ENOMEM;
				break;
			}
			arr = tmp;
		}
		memset(&arr[cnt], 0, sizeof(arr[cnt]));
		key_flow(&key, val.local, &arr[cnt].flow);
		arr[cnt].dropped[0] = val.dropped[val.local & 1];
		arr[cnt].dropped[1] = val.dropped[!(val.local & 1)];
		arr[cnt].passed[0] = val.passed[val.local & 1];
		arr[cnt].passed[1] = val.passed[!(val.local & 1)];
		cnt++;
	}
	if (err) {
		free(arr);
		return err;
	}
	*entries = arr;
	*n = cnt;
	return 0;
}

SOCCR_API int soccr_flow_from_sockaddr(struct soccr_flow *flow, const struct sockaddr *local,
				       const struct sockaddr *peer)
{
	const struct sockaddr *sa[2] = {local, peer};
	struct soccr_flow f;
	int fam[2];

	if (!flow || !local || !peer)
		return -EINVAL;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 2; i++) {
		union soccr_inaddr *addr = i ? &f.daddr : &f.saddr;
		uint16_t *port = i ? &f.dport : &f.sport;

		if (sa[i]->sa_family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)sa[i];

			fam[i] = AF_INET;
			addr->v4 = sin->sin_addr;
			*port = ntohs(sin->sin_port);
		} else if (sa[i]->sa_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa[i];

			*port = ntohs(sin6->sin6_port);
			if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
				/* On the wire a v4-mapped socket speaks plain IPv4. */
				fam[i] = AF_INET;
				memcpy(&addr->v4, &sin6->sin6_addr.s6_addr[12], sizeof(addr->v4));
			} else {
				fam[i] = AF_INET6;
				addr->v6 = sin6->sin6_addr;
			}
		} else {
			return -EAFNOSUPPORT;
		}
	}
	if (fam[0] != fam[1])
		return -EINVAL;
	f.family = fam[0];
	*flow = f;
	return 0;
}
