// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The lock's kernel objects: the classifier, its slots of flows and its meta
 * word, found attached in this network namespace, found pinned, or loaded;
 * checked (name, type, layout), closed.
 */
#include "lock/lk.h"
#include "lockprog.skel.h"

const __u32 sc_lock_slot_size[SOCCR_LOCK_SLOTS] = SOCCR_LOCK_SLOT_SIZES;

int sc_lock_path_in(const struct soccr_lock *lock, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", lock->pin_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool sc_lock_is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/*
 * The pin directory's parent must live on a bpffs. When it is under
 * /sys/fs/bpf and nothing is mounted there (a bare container, `unshare -m`,
 * `ip netns exec`), mount one: then the pins are this mount namespace's only.
 */
static int ensure_bpffs(const char *dir)
{
	char parent[PATH_MAX];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		pr_err("lock: pin dir %s: must be a directory on a bpffs mount", dir);
		return -EINVAL;
	}
	*slash = '\0';
	if (sc_lock_is_bpffs(parent))
		return 0;
	if (!strncmp(dir, BPFFS_ROOT "/", strlen(BPFFS_ROOT) + 1) && !sc_lock_is_bpffs(BPFFS_ROOT)) {
		if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700")) {
			int err = -errno;

			pr_perror("lock: mount bpffs on %s", BPFFS_ROOT);
			return err;
		}
		pr_dbg("lock: mounted bpffs on %s", BPFFS_ROOT);
		if (sc_lock_is_bpffs(parent))
			return 0;
	}
	pr_err("lock: pin dir %s: %s is not on a bpffs mount", dir, parent);
	return -ENOTSUP;
}

int sc_lock_netns_cookie(__u64 *cookie)
{
	socklen_t clen = sizeof(*cookie);
	struct stat st;
	int sk, err = 0;

	/* SO_NETNS_COOKIE (5.14): unique for the boot, never reused, unlike the inode number. */
	sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return -errno;
	if (getsockopt(sk, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &clen)) {
		if (stat("/proc/thread-self/ns/net", &st))
			err = -errno;
		else
			*cookie = st.st_ino;
	}
	close(sk);
	return err;
}

int sc_lock_check_prog(int fd, __u32 *id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_PROG_TYPE_SCHED_CLS || strcmp(info.name, PROG_NAME))
		return -EINVAL;
	*id = info.id;
	return 0;
}

static bool map_is(int fd, __u32 type, const char *name, __u32 key_size, __u32 value_size)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	size_t nl = strlen(name);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != type ||
	    info.key_size != key_size || info.value_size != value_size)
		return false;
	/* ".rodata" names come prefixed with (part of) the object's name. */
	if (name[0] == '.') {
		size_t il = strlen(info.name);

		return il >= nl && !strcmp(info.name + il - nl, name);
	}
	return !strcmp(info.name, name);
}

void sc_lock_init(struct soccr_lock *lock)
{
	memset(lock, 0, sizeof(*lock));
	lock->prog_fd = lock->slots_fd = lock->array_fd = lock->meta_fd = -1;
	for (int i = 0; i < SOCCR_LOCK_SLOTS; i++)
		lock->slot_fd[i] = -1;
}

void sc_lock_drop_prog(struct soccr_lock *lock)
{
	int *fds[] = {&lock->prog_fd, &lock->slots_fd, &lock->array_fd, &lock->meta_fd};

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	for (int i = 0; i < SOCCR_LOCK_SLOTS; i++) {
		if (lock->slot_fd[i] >= 0)
			close(lock->slot_fd[i]);
		lock->slot_fd[i] = -1;
	}
	lock->prog_id = 0;
	lock->add_hint = 0;
}

int sc_lock_take_prog(struct soccr_lock *lock, int prog_fd)
{
	struct bpf_prog_info info;
	__u32 ids[8], len = sizeof(info), zero = 0;
	bool have_cfg = false;
	int err;

	sc_lock_drop_prog(lock);
	lock->prog_fd = prog_fd;
	err = sc_lock_check_prog(prog_fd, &lock->prog_id);
	if (err)
		return err;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = ARRAY_SIZE(ids);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	for (__u32 i = 0; i < info.nr_map_ids && i < ARRAY_SIZE(ids); i++) {
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (lock->slots_fd < 0 &&
		    map_is(fd, BPF_MAP_TYPE_HASH_OF_MAPS, SLOTS_NAME, sizeof(__u32), sizeof(__u32))) {
			lock->slots_fd = fd;
		} else if (lock->array_fd < 0 && map_is(fd, BPF_MAP_TYPE_ARRAY_OF_MAPS, ARRAY_NAME,
							 sizeof(__u32), sizeof(__u32))) {
			lock->array_fd = fd;
		} else if (lock->meta_fd < 0 &&
			   map_is(fd, BPF_MAP_TYPE_ARRAY, META_NAME, sizeof(__u32),
				  sizeof(struct soccr_lock_meta))) {
			lock->meta_fd = fd;
		} else if (!have_cfg && map_is(fd, BPF_MAP_TYPE_ARRAY, ".rodata", sizeof(__u32),
					       sizeof(struct soccr_lock_cfg))) {
			have_cfg = !bpf_map_lookup_elem(fd, &zero, &lock->cfg);
			close(fd);
		} else {
			close(fd);
		}
	}
	if (!have_cfg || lock->cfg.layout != SOCCR_LOCK_LAYOUT || lock->slots_fd < 0 ||
	    lock->array_fd < 0 || lock->meta_fd < 0) {
		if (!have_cfg)
			lock->cfg.layout = 1;
		return -EPROTO;
	}
	return 0;
}

/*
 * Slot i into the classifier's array, before anything is added to it. Every
 * user writes the same map there (the one soccr_slots holds), so the writes
 * agree; the array never loses a slot that soccr_slots has. A slot the
 * array holds already (id: its map id, 0 for a slot just made) is left as
 * it is: the write would change nothing, and every write to an array of
 * maps waits for an RCU grace period (10-20 ms).
 */
static int publish(struct soccr_lock *lock, unsigned int i, int fd, __u32 id)
{
	__u32 key = i, cur = 0;

	if (id && !bpf_map_lookup_elem(lock->array_fd, &key, &cur) && cur == id)
		return 0;
	if (bpf_map_update_elem(lock->array_fd, &key, &fd, BPF_ANY)) {
		int err = -errno;

		pr_perror("lock: publish slot %u", i);
		return err;
	}
	return 0;
}

int sc_lock_slot(struct soccr_lock *lock, unsigned int i, bool create)
{
	LIBBPF_OPTS(bpf_map_create_opts, mopts);
	__u32 key = i, id;
	int fd, err;

	if (i >= SOCCR_LOCK_SLOTS)
		return -E2BIG;
	if (lock->slot_fd[i] >= 0)
		return lock->slot_fd[i];
	for (int tries = 0; tries < 2; tries++) {
		if (!bpf_map_lookup_elem(lock->slots_fd, &key, &id)) {
			fd = bpf_map_get_fd_by_id(id);
			if (fd < 0) {
				err = -errno;
				pr_perror("lock: open slot %u (map id %u)", i, id);
				return err;
			}
			/* The slot's maker may have died before publishing it: publish it again. */
			err = publish(lock, i, fd, id);
			if (err) {
				close(fd);
				return err;
			}
			lock->slot_fd[i] = fd;
			return fd;
		}
		if (errno != ENOENT) {
			err = -errno;
			pr_perror("lock: look up slot %u", i);
			return err;
		}
		if (!create)
			return -ENOENT;
		fd = bpf_map_create(BPF_MAP_TYPE_HASH, "soccr_slot", sizeof(struct soccr_lock_key),
				    sizeof(struct soccr_lock_val), sc_lock_slot_size[i], &mopts);
		if (fd < 0) {
			err = -errno;
			pr_perror("lock: make slot %u (%u flows)", i, sc_lock_slot_size[i]);
			return err;
		}
		/* Only if absent: a racing process's slot wins, and then we use that one. */
		err = bpf_map_update_elem(lock->slots_fd, &key, &fd, BPF_NOEXIST) ? -errno : 0;
		if (!err)
			err = publish(lock, i, fd, 0);
		if (!err) {
			lock->slot_fd[i] = fd;
			pr_dbg("lock: made slot %u (%u flows)", i, sc_lock_slot_size[i]);
			return fd;
		}
		close(fd);
		if (err != -EEXIST) {
			pr_err("lock: add slot %u: %s", i, strerror(-err));
			return err;
		}
	}
	return -EAGAIN;
}

int sc_lock_meta(const struct soccr_lock *lock, __u32 set, __u32 clear, __u32 *now)
{
	struct soccr_lock_meta m;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(lock->meta_fd, &zero, &m))
		return -errno;
	if (set || clear) {
		m.flags = (m.flags | set) & ~clear;
		if (bpf_map_update_elem(lock->meta_fd, &zero, &m, BPF_ANY))
			return -errno;
	}
	if (now)
		*now = m.flags;
	return 0;
}

/* How long a command waits for another's attach or detach in the same netns. */
#define MUTEX_WAIT_US  (5 * 1000 * 1000)
#define MUTEX_POLL_US  1000

int sc_lock_mutex(const struct soccr_lock *lock)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, n, waited = 0;
	socklen_t len;

	/* Abstract name (leading NUL); a named pin dir gets its own (truncated to fit). */
	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "soccr-lock:%s",
		     lock->shared ? lock->pin_dir : "netns");
	if (n < 0)
		return -EINVAL;
	if ((size_t)n > sizeof(sun.sun_path) - 2)
		n = (int)sizeof(sun.sun_path) - 2;
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (bind(fd, (struct sockaddr *)&sun, len)) {
		int err = -errno;

		if (err != -EADDRINUSE || waited >= MUTEX_WAIT_US) {
			close(fd);
			pr_err("lock: wait for another soccr's attach or detach: %s",
			       err == -EADDRINUSE ? "timed out" : strerror(-err));
			return err == -EADDRINUSE ? -EBUSY : err;
		}
		usleep(MUTEX_POLL_US);
		waited += MUTEX_POLL_US;
	}
	return fd;
}

/* Open the pinned program. -ENOENT if the program is not pinned. */
static int open_pinned(struct soccr_lock *lock)
{
	char path[PATH_MAX];
	int fd, err;

	err = sc_lock_path_in(lock, PIN_PROG, path, sizeof(path));
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		if (err != -ENOENT)
			pr_perror("lock: open pinned %s", path);
		return err;
	}
	err = sc_lock_take_prog(lock, fd);
	if (err == -EPROTO)
		pr_err("lock: %s is a soccr lock of layout %u, this soccr uses %u: "
		       "'soccr lock detach' removes it", path, lock->cfg.layout, SOCCR_LOCK_LAYOUT);
	else if (err)
		pr_err("lock: %s is not a soccr lock program", path);
	return err;
}

/*
 * Load the classifier; pin it if the lock has a named pin dir. -EEXIST when
 * another process pinned one meanwhile (open that one).
 */
static int load(struct soccr_lock *lock, __u32 mark, unsigned int flags)
{
	struct soccr_lockprog *skel;
	char prog_path[PATH_MAX] = "";
	int err, fd, prog;

	if (lock->shared) {
		err = sc_lock_path_in(lock, PIN_PROG, prog_path, sizeof(prog_path));
		if (err)
			return err;
	}
	skel = soccr_lockprog__open();
	if (!skel) {
		err = -errno;
		pr_perror("lock: open the classifier object");
		return err;
	}
	skel->rodata->cfg.pass_mark = mark;
	skel->rodata->cfg.count_marked = !(flags & SOCCR_LOCK_NO_MARK_COUNT);
	err = soccr_lockprog__load(skel);
	if (err) {
		pr_err("lock: load the classifier: %s", strerror(-err));
		goto out;
	}
	prog = bpf_program__fd(skel->progs.soccr_lock);
	/* The program never reads these maps: bind them so that they live and are found with it. */
	if (bpf_prog_bind_map(prog, bpf_map__fd(skel->maps.soccr_meta), NULL) ||
	    bpf_prog_bind_map(prog, bpf_map__fd(skel->maps.soccr_slots), NULL)) {
		err = -errno;
		pr_perror("lock: bind the lock's maps");
		goto out;
	}
	if (*prog_path && bpf_obj_pin(prog, prog_path)) {
		err = -errno;
		if (err != -EEXIST)
			pr_perror("lock: pin %s", prog_path);
		goto out;
	}
	fd = fcntl(prog, F_DUPFD_CLOEXEC, 0);
	err = fd < 0 ? -errno : sc_lock_take_prog(lock, fd);
	if (err) {
		if (*prog_path)
			unlink(prog_path);
		goto out;
	}
	pr_dbg("lock: loaded the classifier%s%s (pass mark %#x)", *prog_path ? ", pinned as " : "",
	       prog_path, mark);
out:
	soccr_lockprog__destroy(skel);
	return err;
}

/*
 * The lock attached in this netns, if any: 0 with the handle filled,
 * -ENOENT if none, -ENOTUNIQ if two different ones are, -EPROTO (another
 * layout).
 */
static int open_attached(struct soccr_lock *lock)
{
	struct lk_hook *h = NULL;
	size_t n = 0;
	int err, fd;

	err = sc_lock_scan(true, &h, &n);
	if (err)
		return err;
	if (!n) {
		free(h);
		return -ENOENT;
	}
	for (size_t i = 1; i < n; i++)
		if (h[i].prog_id != h[0].prog_id) {
			pr_err("lock: two soccr lock programs (ids %u, %u) attached on %s: "
			       "'soccr lock status' tells more, 'soccr lock detach' removes both",
			       h[0].prog_id, h[i].prog_id, h[0].ifname);
			free(h);
			return -ENOTUNIQ;
		}
	fd = bpf_prog_get_fd_by_id(h[0].prog_id);
	if (fd < 0) {
		err = -errno;
		pr_perror("lock: open program id %u attached on %s", h[0].prog_id, h[0].ifname);
		free(h);
		return err;
	}
	err = sc_lock_take_prog(lock, fd);
	if (err == -EPROTO)
		pr_err("lock: the soccr lock attached on %s is of layout %u, this soccr uses %u: "
		       "'soccr lock detach' removes it", h[0].ifname, lock->cfg.layout,
		       SOCCR_LOCK_LAYOUT);
	free(h);
	return err;
}

int sc_lock_resolve_dir(struct soccr_lock *lock, const char *dir)
{
	char base[PATH_MAX];
	int n;

	lock->shared = dir && *dir;
	if (!lock->shared) {
		dir = secure_getenv("SOCCR_PIN_DIR");
		lock->shared = dir && *dir;
	}
	n = snprintf(base, sizeof(base), "%s", lock->shared ? dir : SOCCR_LOCK_PIN_DIR);
	/* Strip trailing slashes so that "dir/" and "dir" name the same lock. */
	while (n > 1 && base[n - 1] == '/')
		base[--n] = '\0';
	if (n <= 0 || (size_t)n >= sizeof(base) - 64 || base[0] != '/') {
		pr_err("lock: pin dir '%s': must be an absolute path", lock->shared ? dir : base);
		return -EINVAL;
	}
	if (lock->shared)
		memcpy(lock->pin_dir, base, (size_t)n + 1);
	return 0;
}

SOCCR_API int soccr_lock_open(const struct soccr_lock_opts *opts, struct soccr_lock **out)
{
	const char *dir = NULL;
	bool made_dir = false;
	unsigned int flags = 0;
	struct soccr_lock *lock;
	__u32 mark = SOCCR_MARK;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts) {
		if (opts->sz < offsetof(struct soccr_lock_opts, flags))
			return -EINVAL;
		dir = opts->pin_dir;
		if (opts->pass_mark)
			mark = opts->pass_mark;
		if (opts->sz >= offsetof(struct soccr_lock_opts, flags) + sizeof(opts->flags))
			flags = opts->flags;
	}
	if (flags & ~(unsigned int)(SOCCR_LOCK_NO_CREATE | SOCCR_LOCK_NO_MARK_COUNT |
				    SOCCR_LOCK_ATTACHED | SOCCR_LOCK_AUTO))
		return -EINVAL;

	lock = malloc(sizeof(*lock));
	if (!lock)
		return -ENOMEM;
	sc_lock_init(lock);
	err = sc_lock_resolve_dir(lock, dir);
	if (err)
		goto fail;
	/* A lock shared through a named pin dir is the user's: never detached as idle. */
	lock->auto_mark = (flags & SOCCR_LOCK_AUTO) && !lock->shared;

	/*
	 * This namespace's lock is the one attached here, whatever bpffs we see;
	 * not pinned: a namespace deleted without a detach would leave a pinned
	 * program and its maps in the host's bpffs for good, while attachments
	 * go with the devices and take the lock with them.
	 */
	if (!lock->shared) {
		err = open_attached(lock);
		if (err == -ENOENT && !(flags & (SOCCR_LOCK_NO_CREATE | SOCCR_LOCK_ATTACHED)))
			err = load(lock, mark, flags);
		if (err)
			goto fail;
		goto done;
	}

	err = ensure_bpffs(lock->pin_dir);
	if (err)
		goto fail;
	for (int tries = 0;; tries++) {
		err = open_pinned(lock);
		if (err != -ENOENT || (flags & (SOCCR_LOCK_NO_CREATE | SOCCR_LOCK_ATTACHED)) ||
		    tries == OPEN_TRIES)
			break;
		if (!mkdir(lock->pin_dir, 0700)) {
			made_dir = true;
		} else if (errno != EEXIST) {
			err = -errno;
			pr_perror("lock: mkdir %s", lock->pin_dir);
			break;
		}
		err = load(lock, mark, flags);
		if (err && err != -EEXIST)
			break;
		/*
		 * -EEXIST: another process is creating the same lock and pinned
		 * first: use its.
		 */
		if (err)
			usleep(OPEN_BACKOFF_US * (tries + 1));
	}
	if (err)
		goto fail;
	if (flags & SOCCR_LOCK_ATTACHED) {
		err = sc_lock_attached_here(lock->prog_id);
		if (!err)
			err = -ENOENT;
		if (err < 0)
			goto fail;
	}
done:
	pr_dbg("lock: %s: prog id %u", lock->shared ? lock->pin_dir : "this netns", lock->prog_id);
	*out = lock;
	return 0;
fail:
	/* A directory this call made and could not fill goes (rmdir leaves a used one). */
	if (made_dir)
		rmdir(lock->pin_dir);
	soccr_lock_close(lock);
	return err;
}

SOCCR_API void soccr_lock_close(struct soccr_lock *lock)
{
	if (!lock)
		return;
	sc_lock_drop_prog(lock);
	free(lock);
}

SOCCR_API int soccr_lock_prog_fd(const struct soccr_lock *lock)
{
	return lock ? lock->prog_fd : -EINVAL;
}

SOCCR_API const char *soccr_lock_pin_dir(const struct soccr_lock *lock)
{
	return lock && lock->shared ? lock->pin_dir : NULL;
}
