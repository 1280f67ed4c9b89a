// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tns_rm_tree(), the removal the demo's scratch directory goes
 * through: everything of the tree goes, nothing outside it, whatever links
 * the tree holds: a link to a directory elsewhere (the symlink swap of a
 * hostile user), a link to a file elsewhere, a tree given as a link, and a
 * subdirectory that belongs to someone else (left, with its files).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tns.h"

static char base[64];

static void put(const char *fmt, const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), fmt, base, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
}

static bool there(const char *fmt, const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), fmt, base, name);
	return !lstat(path, &st);
}

static void mk(const char *fmt, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), fmt, base, name);
	assert_int_equal(mkdir(path, 0700), 0);
}

static void ln(const char *target_fmt, const char *tname, const char *fmt, const char *name)
{
	char target[256], path[256];

	snprintf(target, sizeof(target), target_fmt, base, tname);
	snprintf(path, sizeof(path), fmt, base, name);
	assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/soccr-rmtree-XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *at(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", base, name);
	return path;
}

static void test_removes_the_tree_and_nothing_it_links_to(void **state)
{
	(void)state;
	/* Outside the tree: a directory and a file that must survive. */
	mk("%s/%s", "outside");
	put("%s/outside/%s", "keep1");
	put("%s/outside/%s", "keep2");
	put("%s/%s", "lonely");
	/* The tree. */
	mk("%s/%s", "tree");
	put("%s/tree/%s", "f");
	mk("%s/tree/%s", "sub");
	mk("%s/tree/sub/%s", "deeper");
	put("%s/tree/sub/deeper/%s", "g");
	ln("%s/%s", "outside", "%s/tree/sub/%s", "swapped"); /* a subdirectory swapped for a link */
	ln("%s/%s", "lonely", "%s/tree/%s", "filelink");
	ln("%s/%s", "nowhere", "%s/tree/%s", "dangling");

	tns_rm_tree(at("tree"));
	assert_false(there("%s/%s", "tree"));
	assert_true(there("%s/outside/%s", "keep1"));
	assert_true(there("%s/outside/%s", "keep2"));
	assert_true(there("%s/%s", "lonely"));
}

static void test_a_tree_given_as_a_link_is_not_followed(void **state)
{
	(void)state;
	mk("%s/%s", "real");
	put("%s/real/%s", "keep");
	ln("%s/%s", "real", "%s/%s", "tree");
	tns_rm_tree(at("tree"));
	assert_true(there("%s/real/%s", "keep"));
	/* The link itself is not ours to remove either: a directory was asked for. */
	assert_true(there("%s/%s", "tree"));
}

static void test_someone_elses_subdirectory_is_not_entered(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* needs chown to another user */
	mk("%s/%s", "tree");
	mk("%s/tree/%s", "theirs");
	put("%s/tree/theirs/%s", "their_file");
	put("%s/tree/%s", "ours");
	assert_int_equal(chown(at("tree/theirs"), 65534, 65534), 0);
	tns_rm_tree(at("tree"));
	assert_false(there("%s/tree/%s", "ours"));
	assert_true(there("%s/tree/theirs/%s", "their_file"));
}

static void test_missing_path_is_harmless(void **state)
{
	(void)state;
	tns_rm_tree(at("no-such-dir"));
	assert_false(there("%s/%s", "no-such-dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_removes_the_tree_and_nothing_it_links_to, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_tree_given_as_a_link_is_not_followed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_someone_elses_subdirectory_is_not_entered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_path_is_harmless, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
