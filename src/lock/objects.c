// SPDX-License-Identifier: LGPL-2.1-or-later
/* The lock's kernel objects: the classifier and its flow map, loaded or found pinned, checked,
 * closed. */
#include "lock/lk.h"
#include "lockprog.skel.h"

int sc_lock_path_in(const struct soccr_lock *lock, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", lock->pin_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/*
 * The pin directory must live on a bpffs. When it is under /sys/fs/bpf and
 * nothing is mounted there (a bare container, `unshare -m`), mount one.
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
	if (is_bpffs(parent))
		return 0;
	if (!strncmp(dir, BPFFS_ROOT "/", strlen(BPFFS_ROOT) + 1) && !is_bpffs(BPFFS_ROOT)) {
		if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700")) {
			int err = -errno;

			pr_perror("lock: mount bpffs on %s", BPFFS_ROOT);
			return err;
		}
		pr_dbg("lock: mounted bpffs on %s", BPFFS_ROOT);
		if (is_bpffs(parent))
			return 0;
	}
	pr_err("lock: pin dir %s: %s is not on a bpffs mount", dir, parent);
	return -ENOTSUP;
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

static int check_map(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_HASH || info.key_size != sizeof(struct soccr_lock_key) ||
	    info.value_size != sizeof(struct soccr_lock_val))
		return -EINVAL;
	return 0;
}

/* The flows map the program uses, found through its map ids (when its pin was lost). */
static int map_of_prog(int prog_fd)
{
	struct bpf_prog_info info;
	__u32 ids[8], len = sizeof(info);

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = ARRAY_SIZE(ids);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	for (__u32 i = 0; i < info.nr_map_ids && i < ARRAY_SIZE(ids); i++) {
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!check_map(fd))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* Open the pinned program and map. -ENOENT if the program is not pinned. */
static int open_pinned(struct soccr_lock *lock)
{
	char path[PATH_MAX];
	int err;

	err = sc_lock_path_in(lock, PIN_PROG, path, sizeof(path));
	if (err)
		return err;
	lock->prog_fd = bpf_obj_get(path);
	if (lock->prog_fd < 0) {
		err = -errno;
		lock->prog_fd = -1;
		if (err != -ENOENT)
			pr_perror("lock: open pinned %s", path);
		return err;
	}
	err = sc_lock_check_prog(lock->prog_fd, &lock->prog_id);
	if (err) {
		pr_err("lock: %s is not a soccr lock program", path);
		return err;
	}

	err = sc_lock_path_in(lock, PIN_MAP, path, sizeof(path));
	if (err)
		return err;
	lock->map_fd = bpf_obj_get(path);
	if (lock->map_fd < 0 && errno == ENOENT) {
		/* A crash between the two pins: recover the map from the program. */
		lock->map_fd = map_of_prog(lock->prog_fd);
		if (lock->map_fd < 0) {
			pr_err("lock: program %s has no flows map", path);
			return -EINVAL;
		}
		if (bpf_obj_pin(lock->map_fd, path) && errno != EEXIST)
			pr_perror("lock: pin %s", path);
		return 0;
	}
	if (lock->map_fd < 0) {
		err = -errno;
		lock->map_fd = -1;
		pr_perror("lock: open pinned %s", path);
		return err;
	}
	err = check_map(lock->map_fd);
	if (err)
		pr_err("lock: %s is not a soccr lock map (another version?)", path);
	return err;
}

/*
 * Load the classifier and pin it, reusing a pinned map if one is there.
 * -EEXIST when another process pinned a program meanwhile (open that one).
 */
static int load_and_pin(struct soccr_lock *lock, __u32 mark, unsigned int flags)
{
	struct soccr_lockprog *skel;
	char map_path[PATH_MAX], prog_path[PATH_MAX];
	int map_fd = -1, err;
	bool reused = false;

	err = sc_lock_path_in(lock, PIN_MAP, map_path, sizeof(map_path));
	if (!err)
		err = sc_lock_path_in(lock, PIN_PROG, prog_path, sizeof(prog_path));
	if (err)
		return err;

	skel = soccr_lockprog__open();
	if (!skel) {
		err = -errno;
		pr_perror("lock: open the classifier object");
		return err;
	}
	skel->rodata->pass_mark = mark;
	skel->rodata->count_marked = !(flags & SOCCR_LOCK_NO_MARK_COUNT);

	map_fd = bpf_obj_get(map_path);
	if (map_fd >= 0) {
		err = check_map(map_fd);
		if (!err)
			err = bpf_map__reuse_fd(skel->maps.soccr_flows, map_fd);
		if (err) {
			pr_err("lock: reuse pinned map %s: %s", map_path, strerror(-err));
			goto out;
		}
		reused = true;
	}

	err = soccr_lockprog__load(skel);
	if (err) {
		pr_err("lock: load the classifier: %s", strerror(-err));
		goto out;
	}
	if (!reused && bpf_obj_pin(bpf_map__fd(skel->maps.soccr_flows), map_path)) {
		err = -errno;
		if (err != -EEXIST)
			pr_perror("lock: pin %s", map_path);
		goto out;
	}
	if (bpf_obj_pin(bpf_program__fd(skel->progs.soccr_lock), prog_path)) {
		err = -errno;
		if (err != -EEXIST) {
			pr_perror("lock: pin %s", prog_path);
			/* No lock without its program: take the map pin we made away again. */
			if (!reused)
				unlink(map_path);
		}
		goto out;
	}
	pr_dbg("lock: loaded and pinned the classifier in %s (pass mark %#x)", lock->pin_dir, mark);
out:
	if (map_fd >= 0)
		close(map_fd);
	soccr_lockprog__destroy(skel);
	return err;
}

SOCCR_API int soccr_lock_open(const struct soccr_lock_opts *opts, struct soccr_lock **out)
{
	const char *dir = NULL;
	bool made_dir = false;
	unsigned int flags = 0;
	struct soccr_lock *lock;
	__u32 mark = SOCCR_MARK;
	int err, n;

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
	if (!dir || !*dir)
		dir = secure_getenv("SOCCR_PIN_DIR");
	if (!dir || !*dir)
		dir = SOCCR_LOCK_PIN_DIR;

	lock = calloc(1, sizeof(*lock));
	if (!lock)
		return -ENOMEM;
	lock->prog_fd = lock->map_fd = -1;
	n = snprintf(lock->pin_dir, sizeof(lock->pin_dir), "%s", dir);
	/* Strip trailing slashes so that "dir/" and "dir" name the same lock. */
	while (n > 1 && lock->pin_dir[n - 1] == '/')
		lock->pin_dir[--n] = '\0';
	if (n <= 0 || (size_t)n >= sizeof(lock->pin_dir) - 16 || lock->pin_dir[0] != '/') {
		pr_err("lock: pin dir '%s': must be an absolute path", dir);
		err = -EINVAL;
		goto fail;
	}

	err = ensure_bpffs(lock->pin_dir);
	if (err)
		goto fail;

	for (int tries = 0;; tries++) {
		err = open_pinned(lock);
		if (err != -ENOENT || (flags & SOCCR_LOCK_NO_CREATE) || tries == OPEN_TRIES)
			break;
		if (!mkdir(lock->pin_dir, 0700)) {
			made_dir = true;
		} else if (errno != EEXIST) {
			err = -errno;
			pr_perror("lock: mkdir %s", lock->pin_dir);
			break;
		}
		err = load_and_pin(lock, mark, flags);
		if (err && err != -EEXIST)
			break;
		/*
		 * -EEXIST: another process is creating the same lock and pinned
		 * first; give it a moment to pin its program too, then use its.
		 */
		if (err)
			usleep(OPEN_BACKOFF_US * (tries + 1));
	}
	if (err)
		goto fail;
	pr_dbg("lock: %s: prog id %u", lock->pin_dir, lock->prog_id);
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
	if (lock->prog_fd >= 0)
		close(lock->prog_fd);
	if (lock->map_fd >= 0)
		close(lock->map_fd);
	free(lock);
}

SOCCR_API int soccr_lock_prog_fd(const struct soccr_lock *lock)
{
	return lock ? lock->prog_fd : -EINVAL;
}

SOCCR_API const char *soccr_lock_pin_dir(const struct soccr_lock *lock)
{
	return lock ? lock->pin_dir : NULL;
}
