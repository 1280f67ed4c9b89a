// SPDX-License-Identifier: LGPL-2.1-or-later
/* The lock of this network namespace as the kernel holds it: attachments, pins, flows, memory. */
#include "lock/lk.h"

/* Kernel memory charged to a BPF map (the "memlock" line of its fdinfo), 0 if unknown. */
static __u64 memlock_of(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void fill_objects(struct soccr_lock *lk, struct soccr_lock_status *st)
{
	__u32 meta = 0;
	int fd = bpf_prog_get_fd_by_id(st->prog_id);

	if (fd < 0)
		return;
	if (sc_lock_take_prog(lk, fd) == -EPROTO) {
		st->problems |= SOCCR_LOCK_PB_LAYOUT;
		st->layout = lk->cfg.layout;
		return;
	}
	st->layout = lk->cfg.layout;
	st->pass_mark = lk->cfg.pass_mark;
	if (!lk->cfg.count_marked)
		st->flags |= SOCCR_LOCK_NO_MARK_COUNT;
	if (!sc_lock_meta(lk, 0, 0, &meta) && (meta & SOCCR_LOCK_META_AUTO))
		st->flags |= SOCCR_LOCK_AUTO;
	st->flows = sc_lock_count(lk, SIZE_MAX);
	st->memlock = memlock_of(lk->slots_fd) + memlock_of(lk->array_fd) + memlock_of(lk->meta_fd);
	for (unsigned int i = 0; i < SOCCR_LOCK_SLOTS; i++) {
		int sfd = sc_lock_slot(lk, i, false);

		if (sfd < 0)
			break;
		st->slots++;
		st->capacity += sc_lock_slot_size[i];
		st->memlock += memlock_of(sfd);
	}
}

static void check_hooks(struct soccr_lock_status *st)
{
	for (size_t i = 0; i < st->nhooks; i++) {
		bool in = false, eg = false;

		if (st->hooks[i].prog_id != st->hooks[0].prog_id)
			st->problems |= SOCCR_LOCK_PB_MANY;
		for (size_t j = 0; j < st->nhooks; j++)
			if (st->hooks[j].ifindex == st->hooks[i].ifindex &&
			    st->hooks[j].prog_id == st->hooks[i].prog_id) {
				in |= !st->hooks[j].egress;
				eg |= st->hooks[j].egress;
			}
		if (!in || !eg)
			st->problems |= SOCCR_LOCK_PB_HALF;
	}
}

SOCCR_API int soccr_lock_status(const struct soccr_lock_opts *opts, struct soccr_lock_status *st)
{
	struct soccr_lock lk;
	char path[PATH_MAX], parent[PATH_MAX], *slash;
	struct lk_hook *h = NULL;
	size_t n = 0, sz;
	int err, fd;

	if (!st || st->sz < offsetof(struct soccr_lock_status, hooks) + sizeof(st->hooks))
		return -EINVAL;
	if (opts && opts->sz < offsetof(struct soccr_lock_opts, flags))
		return -EINVAL;
	sz = st->sz;
	memset(st, 0, sizeof(*st));
	st->sz = sz;
	sc_lock_init(&lk);
	err = sc_lock_resolve_dir(&lk, opts ? opts->pin_dir : NULL);
	if (!err)
		err = sc_lock_netns_cookie((__u64 *)&st->netns_cookie);
	if (err)
		return err;
	/* Truncated if longer (the handle's path is PATH_MAX). */
	memcpy(st->pin_dir, lk.pin_dir, sizeof(st->pin_dir) - 1);

	err = sc_lock_scan(false, &h, &n);
	if (err)
		return err;
	if (n) {
		st->hooks = calloc(n, sizeof(*st->hooks));
		if (!st->hooks) {
			free(h);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(st->hooks[i].ifname, sizeof(st->hooks[i].ifname), "%s", h[i].ifname);
		st->hooks[i].ifindex = h[i].ifindex;
		st->hooks[i].prog_id = h[i].prog_id;
		st->hooks[i].egress = h[i].egress;
		st->hooks[i].tcx = h[i].tcx;
	}
	st->nhooks = n;
	free(h);
	check_hooks(st);

	/* The pins, only where they are visible: never mount anything to look. */
	snprintf(parent, sizeof(parent), "%s", lk.pin_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	st->pins_visible = lk.shared && sc_lock_is_bpffs(parent);
	if (st->pins_visible && !sc_lock_path_in(&lk, PIN_PROG, path, sizeof(path))) {
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			if (sc_lock_check_prog(fd, &st->pinned_prog_id))
				st->pinned_prog_id = 0;
			close(fd);
		}
	}

	st->prog_id = st->nhooks ? st->hooks[0].prog_id : st->pinned_prog_id;
	st->found = st->prog_id != 0;
	if (!st->found)
		return 0;
	if (!st->nhooks)
		st->problems |= SOCCR_LOCK_PB_PIN_ONLY;
	else if (st->pinned_prog_id && st->pinned_prog_id != st->prog_id)
		st->problems |= SOCCR_LOCK_PB_PIN_OTHER;
	else if (!st->pinned_prog_id && st->pins_visible)
		st->problems |= SOCCR_LOCK_PB_NO_PIN;
	fill_objects(&lk, st);
	sc_lock_drop_prog(&lk);
	return 0;
}

SOCCR_API void soccr_lock_status_free(struct soccr_lock_status *st)
{
	if (!st)
		return;
	free(st->hooks);
	st->hooks = NULL;
	st->nhooks = 0;
}
