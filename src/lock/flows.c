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

/*
 * The flows live in slots made one after the other (bpf/lock.h): an add goes
 * into the first slot with room, so a flow is normally in one slot only. A
 * flow added again after an earlier slot got room (a delete there) may sit in
 * two: the classifier uses the first, a delete takes every copy, the list
 * merges them (counters summed), so that changes nothing one can see.
 */

SOCCR_API int soccr_lock_add(struct soccr_lock *lock, const struct soccr_flow *flow)
{
	struct soccr_lock_key k;
	struct soccr_lock_val v;
	int err = -E2BIG;

	if (!lock || !flow)
		return -EINVAL;
	memset(&v, 0, sizeof(v));
	if (flow_key(flow, &k, &v.local))
		return bad_flow("add");
	/*
	 * From the slot that took the last add, then the later ones (made in
	 * order as needed), then the earlier ones: one call per add while that
	 * slot has room, not one per full slot before it (a flow added again may
	 * then get a second copy in another slot: see above).
	 */
	for (unsigned int j = 0; j < SOCCR_LOCK_SLOTS; j++) {
		unsigned int i = (lock->add_hint + j) % SOCCR_LOCK_SLOTS;
		int fd = sc_lock_slot(lock, i, true);

		if (fd < 0)
			return fd;
		/* BPF_NOEXIST: locking again must not reset the counters. */
		if (!bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST) || errno == EEXIST) {
			lock->add_hint = i;
			return 0;
		}
		err = -errno;
		if (err != -E2BIG)
			break;
	}
	pr_perror("lock: add flow%s", err == -E2BIG ? " (lock full)" : "");
	return err;
}

SOCCR_API int soccr_lock_del(struct soccr_lock *lock, const struct soccr_flow *flow)
{
	struct soccr_lock_key k;
	int err;

	if (!lock || !flow)
		return -EINVAL;
	if (flow_key(flow, &k, NULL))
		return bad_flow("del");
	for (unsigned int i = 0; i < SOCCR_LOCK_SLOTS; i++) {
		int fd = sc_lock_slot(lock, i, false);

		if (fd == -ENOENT)
			break;
		if (fd < 0)
			return fd;
		if (bpf_map_delete_elem(fd, &k) && errno != ENOENT) {
			err = -errno;
			pr_perror("lock: delete flow");
			return err;
		}
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
 * Run a batch update or delete over n keys of one slot. A delete skips the
 * keys that are not there (the kernel stops at them with count = the
 * elements done before). *done: how many keys were handled (an update that
 * fills the slot stops there with -E2BIG). 1: batches unsupported.
 */
static int run_batch(int fd, bool del, struct soccr_lock_key *keys, struct soccr_lock_val *vals,
		     size_t n, size_t *done)
{
	/* Batch updates accept no BPF_NOEXIST (only BPF_F_LOCK): they overwrite. */
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);

	*done = 0;
	while (*done < n) {
		__u32 cnt = (__u32)(n - *done > UINT32_MAX ? UINT32_MAX : n - *done);
		int err;

		if (del)
			err = bpf_map_delete_batch(fd, keys + *done, &cnt, &opts);
		else
			err = bpf_map_update_batch(fd, keys + *done, vals + *done, &cnt, &opts);
		if (!err) {
			*done = n;
			break;
		}
		err = -errno;
		/*
		 * The kernel writes back the count of elements done only once it
		 * has started on them; a check failing before leaves ours as is.
		 */
		if (cnt >= n - *done)
			cnt = 0;
		if (del && err == -ENOENT) {
			*done += cnt + 1;
			continue;
		}
		*done += cnt;
		if (*done == 0 && batch_unsupported(err))
			return 1; /* fall back to one call per flow */
		return err;
	}
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct soccr_lock_key));
}

/*
 * What slot fd holds, read with BPF_MAP_LOOKUP_BATCH (a few calls for the
 * whole slot; cap: the slot's size): the keys in a malloc()ed array (*keys),
 * and with vals the values in another (*vals), *n of each. 0 or -errno
 * (-EOPNOTSUPP: no batch lookup in this kernel).
 */
static int slot_read(int fd, __u32 cap, struct soccr_lock_key **keys,
		     struct soccr_lock_val **vals, size_t *n)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct soccr_lock_key *k = malloc((size_t)cap * sizeof(*k));
	struct soccr_lock_val *v = malloc((size_t)cap * sizeof(*v));
	__u32 token = 0, cnt;
	size_t got = 0;
	bool first = true;
	int err = 0;

	if (!k || !v) {
		err = -ENOMEM;
		goto out;
	}
	while (got < cap) {
		cnt = (__u32)(cap - got);
		if (bpf_map_lookup_batch(fd, first ? NULL : &token, &token, k + got, v + got, &cnt,
					 &opts)) {
			err = -errno;
			if (err == -ENOENT) { /* the end: cnt holds the last ones */
				got += cnt;
				err = 0;
			} else if (first && batch_unsupported(err)) {
				err = -EOPNOTSUPP;
			}
			break;
		}
		got += cnt;
		first = false;
	}
out:
	if (err || !vals) {
		free(v);
		v = NULL;
	}
	if (err) {
		free(k);
		return err;
	}
	*keys = k;
	if (vals)
		*vals = v;
	*n = got;
	return 0;
}

/* The keys slot fd holds, sorted, in a malloc()ed array (*keys, *n). 0 or -errno. */
static int slot_keys(int fd, __u32 cap, struct soccr_lock_key **keys, size_t *n)
{
	int err = slot_read(fd, cap, keys, NULL, n);

	if (!err)
		qsort(*keys, *n, sizeof(**keys), key_cmp);
	return err;
}

/*
 * Delete keys[0..n) from every slot. A batch delete stops at each key a slot
 * lacks (one call per miss), and a key lives in one slot of several: a slot
 * not much larger than the batch has its keys read first, and gets only the
 * ones it holds; a slot far larger takes the batch with misses skipped.
 * Every slot is offered every key (a key added again may sit in two).
 * *unsupported: the kernel has no batch calls.
 */
static int del_slots(struct soccr_lock *lock, struct soccr_lock_key *keys, size_t n,
		     bool *unsupported)
{
	size_t done;
	int err = 0;

	for (unsigned int i = 0; i < SOCCR_LOCK_SLOTS && !err; i++) {
		int fd = sc_lock_slot(lock, i, false);
		struct soccr_lock_key *held = NULL;
		size_t nheld = 0, in = 0;

		if (fd == -ENOENT)
			break;
		if (fd < 0)
			return fd;
		if ((size_t)sc_lock_slot_size[i] > 4 * n ||
		    slot_keys(fd, sc_lock_slot_size[i], &held, &nheld)) {
			err = run_batch(fd, true, keys, NULL, n, &done);
			if (err == 1) {
				*unsupported = true;
				return 0;
			}
			continue;
		}
		/* Keys this slot holds to the front, the others after. */
		for (size_t k = 0; k < n; k++)
			if (bsearch(&keys[k], held, nheld, sizeof(*held), key_cmp)) {
				struct soccr_lock_key t = keys[in];

				keys[in++] = keys[k];
				keys[k] = t;
			}
		free(held);
		err = in ? run_batch(fd, true, keys, NULL, in, &done) : 0;
		if (err == 1) {
			*unsupported = true;
			return 0;
		}
	}
	return err;
}

static int batch(struct soccr_lock *lock, const struct soccr_flow *flows, size_t n, bool del)
{
	struct soccr_lock_key *keys = NULL;
	struct soccr_lock_val *vals = NULL;
	const char *what = del ? "del" : "add";
	size_t at = 0, done;
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

	if (del) {
		bool unsupported = false;

		err = del_slots(lock, keys, n, &unsupported);
		if (unsupported)
			err = 1;
	}
	for (unsigned int i = 0; i < SOCCR_LOCK_SLOTS && !del; i++) {
		int fd = sc_lock_slot(lock, i, true);

		if (fd < 0) {
			err = fd;
			break;
		}
		/* What the earlier slots took is done. */
		err = run_batch(fd, false, keys + at, vals + at, n - at, &done);
		if (err == 1)
			break;
		at += done;
		if (err == -E2BIG && i + 1 < SOCCR_LOCK_SLOTS) {
			err = 0;
			continue;
		}
		if (!err)
			lock->add_hint = i;
		break;
	}
	if (err == 1) {
		pr_dbg("lock: batch %s not supported by the kernel, one call per flow", what);
		err = 0;
		for (size_t i = at; i < n && !err; i++)
			err = del ? soccr_lock_del(lock, &flows[i]) : soccr_lock_add(lock, &flows[i]);
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

struct kv {
	struct soccr_lock_key k;
	struct soccr_lock_val v;
};

static int kv_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct kv *)a)->k, &((const struct kv *)b)->k,
		      sizeof(struct soccr_lock_key));
}

/* Make room for want more entries in *arr (*cap grown as needed). 0 or -ENOMEM. */
static int kv_room(struct kv **arr, size_t cnt, size_t *cap, size_t want)
{
	struct kv *tmp;
	size_t c = *cap ? *cap : 64;

	if (cnt + want <= *cap)
		return 0;
	while (c < cnt + want)
		c *= 2;
	tmp = realloc(*arr, c * sizeof(**arr));
	if (!tmp)
		return -ENOMEM;
	*arr = tmp;
	*cap = c;
	return 0;
}

/* Append what slot fd holds to *arr, one key at a time (no batch lookup). 0 or -errno. */
static int slot_walk(int fd, __u32 size, struct kv **arr, size_t *cnt, size_t *cap)
{
	struct soccr_lock_key key, next;
	void *prev = NULL;
	size_t in_slot = 0;
	int err;

	/* A slot holds at most its size: a bound even if it changes under us. */
	while (in_slot < size) {
		if (bpf_map_get_next_key(fd, prev, &next)) {
			if (errno == ENOENT)
				return 0;
			err = -errno;
			pr_perror("lock: list flows");
			return err;
		}
		key = next;
		prev = &key;
		err = kv_room(arr, *cnt, cap, 1);
		if (err)
			return err;
		if (bpf_map_lookup_elem(fd, &key, &(*arr)[*cnt].v))
			continue; /* deleted meanwhile */
		(*arr)[*cnt].k = key;
		(*cnt)++;
		in_slot++;
	}
	return 0;
}

/*
 * Every (key, value) of every slot, copies merged (counters summed): each
 * slot read in a few batch lookups, or one key at a time where the kernel
 * has no batch lookup or the batch failed (a slot changing under it).
 */
static int read_all(struct soccr_lock *lock, struct kv **out, size_t *n)
{
	struct kv *arr = NULL;
	size_t cnt = 0, cap = 0, m = 0;
	int err = 0;

	for (unsigned int s = 0; s < SOCCR_LOCK_SLOTS && !err; s++) {
		struct soccr_lock_key *keys = NULL;
		struct soccr_lock_val *vals = NULL;
		int fd = sc_lock_slot(lock, s, false);
		size_t got = 0;

		if (fd == -ENOENT)
			break;
		if (fd < 0) {
			err = fd;
			break;
		}
		err = slot_read(fd, sc_lock_slot_size[s], &keys, &vals, &got);
		if (err == -ENOMEM)
			break;
		if (err) {
			err = slot_walk(fd, sc_lock_slot_size[s], &arr, &cnt, &cap);
			continue;
		}
		err = kv_room(&arr, cnt, &cap, got);
		for (size_t i = 0; !err && i < got; i++) {
			arr[cnt].k = keys[i];
			arr[cnt++].v = vals[i];
		}
		free(keys);
		free(vals);
	}
	if (err) {
		free(arr);
		return err;
	}
	if (cnt > 1)
		qsort(arr, cnt, sizeof(*arr), kv_cmp);
	for (size_t i = 0; i < cnt; i++) {
		if (m && !kv_cmp(&arr[m - 1], &arr[i])) {
			for (int d = 0; d < 2; d++) {
				arr[m - 1].v.dropped[d] += arr[i].v.dropped[d];
				arr[m - 1].v.passed[d] += arr[i].v.passed[d];
			}
			continue;
		}
		arr[m++] = arr[i];
	}
	*out = arr;
	*n = m;
	return 0;
}

size_t sc_lock_count(struct soccr_lock *lock, size_t max)
{
	size_t cnt = 0;

	for (unsigned int s = 0; s < SOCCR_LOCK_SLOTS && cnt < max; s++) {
		struct soccr_lock_key key, next;
		void *prev = NULL;
		int fd = sc_lock_slot(lock, s, false);

		if (fd < 0)
			break;
		for (size_t i = 0; i < sc_lock_slot_size[s] && cnt < max; i++) {
			if (bpf_map_get_next_key(fd, prev, &next))
				break;
			key = next;
			prev = &key;
			cnt++;
		}
	}
	return cnt;
}

SOCCR_API int soccr_lock_list(struct soccr_lock *lock, struct soccr_lock_entry **entries, size_t *n)
{
	struct soccr_lock_entry *arr = NULL;
	struct kv *kv = NULL;
	size_t cnt = 0;
	int err;

	if (!lock || !entries || !n)
		return -EINVAL;
	*entries = NULL;
	*n = 0;
	err = read_all(lock, &kv, &cnt);
	if (err)
		return err;
	if (cnt) {
		arr = calloc(cnt, sizeof(*arr));
		if (!arr) {
			free(kv);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < cnt; i++) {
		const struct soccr_lock_val *val = &kv[i].v;

		key_flow(&kv[i].k, val->local, &arr[i].flow);
		arr[i].dropped[0] = val->dropped[val->local & 1];
		arr[i].dropped[1] = val->dropped[!(val->local & 1)];
		arr[i].passed[0] = val->passed[val->local & 1];
		arr[i].passed[1] = val->passed[!(val->local & 1)];
	}
	free(kv);
	*entries = arr;
	*n = cnt;
	return 0;
}

int sc_lock_copy_flows(struct soccr_lock *from, struct soccr_lock *to)
{
	struct soccr_lock_entry *e = NULL;
	struct soccr_flow *f;
	size_t n = 0;
	int err = soccr_lock_list(from, &e, &n);

	if (err || !n) {
		free(e);
		return err;
	}
	f = malloc(n * sizeof(*f));
	if (!f) {
		free(e);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		f[i] = e[i].flow;
	err = soccr_lock_add_batch(to, f, n);
	free(f);
	free(e);
	return err < 0 ? err : 0;
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
