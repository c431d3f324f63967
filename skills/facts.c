/* facts.c - what this machine is: the facts a plan is chosen by.
 *
 * uname and /etc/os-release give the system; PATH gives the commands and
 * package managers present; dpkg's status file says which Debian packages
 * are installed (read directly: a query, nothing runs). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "skills_int.h"

/* ---- words ------------------------------------------------------------- */

struct word {
	const char *w, *id;
};

static const struct word os_words[] = {
	{ "debian", "debian" }, { "ubuntu", "ubuntu" }, { "mint", "linuxmint" },
	{ "linuxmint", "linuxmint" }, { "pop", "pop" }, { "raspbian", "raspbian" },
	{ "fedora", "fedora" }, { "rhel", "rhel" }, { "redhat", "rhel" },
	{ "centos", "centos" }, { "rocky", "rocky" }, { "alma", "almalinux" },
	{ "almalinux", "almalinux" }, { "arch", "arch" }, { "archlinux", "arch" },
	{ "manjaro", "manjaro" }, { "endeavouros", "endeavouros" }, { "alpine", "alpine" },
	{ "opensuse", "opensuse" }, { "suse", "opensuse" }, { "sles", "sles" },
	{ "gentoo", "gentoo" }, { "nixos", "nixos" }, { "void", "void" },
	{ "macos", "macos" }, { "mac", "macos" }, { "osx", "macos" }, { "darwin", "macos" },
	{ "windows", "windows" }, { "win", "windows" }, { "freebsd", "freebsd" },
	{ "openbsd", "openbsd" }, { "netbsd", "netbsd" },
	{ NULL, NULL },
};

static const struct word pm_words[] = {
	{ "apt", "apt" }, { "apt-get", "apt" }, { "dpkg", "apt" }, { "dnf", "dnf" },
	{ "yum", "dnf" }, { "rpm", "dnf" }, { "pacman", "pacman" }, { "yay", "pacman" },
	{ "brew", "brew" }, { "homebrew", "brew" }, { "linuxbrew", "brew" },
	{ "apk", "apk" }, { "zypper", "zypper" }, { "snap", "snap" },
	{ "flatpak", "flatpak" }, { "nix", "nix" }, { "winget", "winget" },
	{ "choco", "choco" }, { "chocolatey", "choco" }, { "scoop", "scoop" },
	{ "macports", "port" }, { "port", "port" }, { "pkg", "pkg" },
	{ NULL, NULL },
};

static const struct word arch_words[] = {
	{ "x86_64", "x86_64" }, { "amd64", "x86_64" }, { "x64", "x86_64" },
	{ "aarch64", "aarch64" }, { "arm64", "aarch64" }, { "armv7", "armv7l" },
	{ "armv7l", "armv7l" }, { "armhf", "armv7l" }, { "riscv64", "riscv64" },
	{ "i386", "i686" }, { "i686", "i686" }, { "x86", "i686" },
	{ "ppc64le", "ppc64le" }, { "s390x", "s390x" },
	{ NULL, NULL },
};

static const char *lookup(const struct word *t, const char *w)
{
	for (; t->w; t++)
		if (strcasecmp(t->w, w) == 0)
			return t->id;
	return NULL;
}

const char *skills_os_word(const char *w)
{
	return lookup(os_words, w);
}

const char *skills_pm_word(const char *w)
{
	return lookup(pm_words, w);
}

const char *skills_arch_word(const char *w)
{
	return lookup(arch_words, w);
}

/* ---- detection ----------------------------------------------------------- */

static bool in_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (name[0] == '\0' || strchr(name, '/'))
		return name[0] && access(name, X_OK) == 0;
	if (path == NULL || path[0] == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p; ) {
		size_t n = strcspn(p, ":");

		if (n && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, name) < (int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		p += n;
		if (*p == ':')
			p++;
	}
	return false;
}

static bool host_has_command(void *ud, const char *name)
{
	(void)ud;
	return in_path(name);
}

/* The installed Debian packages, read once (per process) from dpkg's
 * status file. */
static char *dpkg_names;  /* "\nname\nname\n..." */
static pthread_once_t dpkg_once = PTHREAD_ONCE_INIT;

static void dpkg_load(void)
{
	FILE *f = fopen("/var/lib/dpkg/status", "re");
	struct sbuf b = { 0 };
	char line[1024], pkg[256] = "";

	sbuf_adds(&b, "\n");
	if (f == NULL) {
		dpkg_names = b.p;
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Package: ", 9) == 0) {
			snprintf(pkg, sizeof(pkg), "%.255s", line + 9);
			pkg[strcspn(pkg, "\n")] = '\0';
		} else if (strncmp(line, "Status: ", 8) == 0 && pkg[0] &&
			   strstr(line, " installed")) {
			sbuf_adds(&b, pkg);
			sbuf_adds(&b, "\n");
		} else if (line[0] == '\n') {
			pkg[0] = '\0';
		}
	}
	fclose(f);
	dpkg_names = b.failed ? NULL : b.p;
}

static bool host_has_package(void *ud, const char *pm, const char *package)
{
	char key[300];
	size_t n;

	(void)ud;
	if (strcmp(pm, "apt") != 0)
		return false;
	pthread_once(&dpkg_once, dpkg_load);
	n = strcspn(package, ":"); /* gcc:amd64 */
	if (dpkg_names == NULL || n == 0 || n > 250)
		return false;
	snprintf(key, sizeof(key), "\n%.*s\n", (int)n, package);
	return strstr(dpkg_names, key) != NULL;
}

static void unquote_copy(char *dst, size_t cap, const char *v)
{
	size_t n = strcspn(v, "\n");

	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v++;
		n -= 2;
	}
	snprintf(dst, cap, "%.*s", (int)n, v);
	for (char *c = dst; *c; c++)
		*c = (char)tolower((unsigned char)*c);
}

void skills_facts_detect(struct skills_facts *f)
{
	static const char *const pms[][2] = {
		{ "apt", "apt-get" }, { "dnf", "dnf" }, { "dnf", "yum" }, { "pacman", "pacman" },
		{ "brew", "brew" }, { "apk", "apk" }, { "zypper", "zypper" }, { "snap", "snap" },
		{ "flatpak", "flatpak" }, { "nix", "nix-env" }, { "port", "port" },
	};
	struct utsname u;
	FILE *osr;
	char line[512];

	memset(f, 0, sizeof(*f));
	if (uname(&u) == 0) {
		unquote_copy(f->os, sizeof(f->os), u.sysname);
		if (strcmp(f->os, "darwin") == 0)
			snprintf(f->os, sizeof(f->os), "macos");
		snprintf(f->arch, sizeof(f->arch), "%.31s", u.machine);
	}
	osr = fopen("/etc/os-release", "re");
	if (osr == NULL)
		osr = fopen("/usr/lib/os-release", "re");
	if (osr) {
		while (fgets(line, sizeof(line), osr)) {
			if (strncmp(line, "ID=", 3) == 0)
				unquote_copy(f->distro, sizeof(f->distro), line + 3);
			else if (strncmp(line, "ID_LIKE=", 8) == 0)
				unquote_copy(f->distro_like, sizeof(f->distro_like), line + 8);
			else if (strncmp(line, "VERSION_ID=", 11) == 0)
				unquote_copy(f->version, sizeof(f->version), line + 11);
		}
		fclose(osr);
	}
	for (size_t i = 0; i < sizeof(pms) / sizeof(pms[0]); i++) {
		if (!in_path(pms[i][1]) || strstr(f->pms, pms[i][0]))
			continue;
		if (f->pms[0])
			strncat(f->pms, " ", sizeof(f->pms) - strlen(f->pms) - 1);
		strncat(f->pms, pms[i][0], sizeof(f->pms) - strlen(f->pms) - 1);
	}
	f->has_command = host_has_command;
	f->has_package = host_has_package;
}
