/* tools_int.h - private declarations shared by the files of libhalo_tools. */
#ifndef HALO_TOOLS_INT_H
#define HALO_TOOLS_INT_H

#include <linux/filter.h>

#include "tools.h"

int tools_seterr(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Read a small text file (at most cap-1 bytes) into buf, NUL-terminated.
 * Returns the length, or -1. */
long tools_read_small(const char *path, char *buf, size_t cap);

/* ==== the sandbox's plan: built by the parent, carried out by children ===
 *
 * Everything the children need is computed before the first fork and lives
 * in one struct, so the children (which may come from a raw clone of a
 * multi-threaded process) never allocate: they only make system calls and
 * format fixed-size messages. */

#define SBX_PATH 1024
#define SBX_MAX_MOUNTS 112
#define SBX_ENV_BYTES 16384
#define SBX_MAX_BPF 1024

enum sbx_mount_kind {
	SBX_M_RO,       /* bind, read-only, nosuid, nodev */
	SBX_M_RW,       /* bind, read-write, nosuid, nodev */
	SBX_M_DEV,      /* bind of a device node, nosuid, noexec */
	SBX_M_SYMLINK,  /* a symlink dst -> src */
	SBX_M_TMPFS,    /* a fresh tmpfs at dst, mode 1777 */
	SBX_M_DEVFS,    /* a fresh tmpfs at dst, mode 0755, for /dev */
	SBX_M_PROC,     /* a fresh proc for the new pid namespace */
};

struct sbx_mount {
	enum sbx_mount_kind kind;
	bool is_dir;          /* a directory (else a file) for binds */
	char src[SBX_PATH];   /* host path, or the link text for SBX_M_SYMLINK */
	char dst[SBX_PATH];   /* path inside the sandbox (equal to src for binds) */
};

/* Landlock access classes for a path. */
enum sbx_access {
	SBX_A_RO,   /* read, execute, list */
	SBX_A_RW,   /* everything */
	SBX_A_DEV,  /* read, write, ioctl on device files */
};

struct sbx_plan {
	unsigned layers;           /* planned; every one is applied or the run fails */
	int landlock_abi;
	bool use_ns;
	bool as_root;              /* the caller's uid is 0 */
	bool announce;             /* the parent is not dumpable (it changed
				    * uid): init makes itself dumpable, so its
				    * maps can be written, and says so first */
	uid_t uid;
	gid_t gid;
	enum tools_net net;
	uint64_t memory, nproc, fsize, nofile, cpu_s, tmp_size;

	struct sbx_mount mounts[SBX_MAX_MOUNTS];
	size_t n_mounts;
	char workspace[SBX_PATH];

	char *const *argv;
	char *envp[TOOLS_SANDBOX_MAX_ENV + 16];
	char envbuf[SBX_ENV_BYTES];

	struct sock_filter bpf[SBX_MAX_BPF];
	unsigned short bpf_len;

	/* pipes: the children's ends */
	int ctl_rd;   /* "go" from the parent; EOF = parent gone or kill */
	int msg_wr;   /* fixed-size records to the parent (struct sbx_msg) */
	int out_wr, err_wr;
	int parent_fds[4]; /* the parent's ends, closed first thing in the child */
};

/* Records the children send up the message pipe (atomic: < PIPE_BUF). */
enum sbx_msg_kind {
	SBX_MSG_NSFAIL = 'N',  /* namespace setup failed: retry without */
	SBX_MSG_FATAL = 'E',   /* a planned layer could not be applied */
	SBX_MSG_EXEC = 'X',    /* execve failed */
	SBX_MSG_STATUS = 'W',  /* init's report: the command's wait status */
	SBX_MSG_READY = 'R',   /* init is dumpable: the maps may be written */
};

struct sbx_msg {
	char kind;
	int value;
	char text[240];
};

/* sandbox_ns.c: the child side.  sbx_child_main never returns. */
__attribute__((noreturn)) void sbx_child_main(struct sbx_plan *plan);

/* landlock.c */
int sbx_landlock_abi(void);     /* 0 if unavailable; cached */
/* Restrict the calling thread by plan's mounts; 0 or -errno, with the step
 * that failed in why. */
int sbx_landlock_apply(const struct sbx_plan *plan, char *why, size_t cap);

/* seccomp.c: compile the filter for this network mode into plan->bpf. */
int sbx_seccomp_build(struct sbx_plan *plan);

/* ==== fsguard.c: file operations confined to the workspace ============ */

#include <jansson.h>

struct fsg {
	int wsfd;               /* O_PATH of the workspace */
	char root[SBX_PATH];    /* its realpath */
	size_t max_file;
};

int fsg_open(struct fsg *g, const char *workspace, size_t max_file);
void fsg_close(struct fsg *g);
/* Read at most max bytes from offset; *size gets the file's size. */
int fsg_read(const struct fsg *g, const char *path, uint64_t offset, size_t max,
	     char **out, size_t *len, uint64_t *size);
/* Replace (or create) path atomically with data. */
int fsg_write(const struct fsg *g, const char *path, const char *data,
	      size_t len, bool mkdirs);
/* Exact-string replacement; old must occur once unless all. */
int fsg_edit(const struct fsg *g, const char *path, const char *old_s,
	     const char *new_s, bool all, size_t *count);
/* Entries of a directory: [{name, type, size}], sorted by name. */
int fsg_list(const struct fsg *g, const char *path, size_t max, json_t **out,
	     bool *truncated);
/* A new temporary file beside path, for a download: returns its fd and
 * fills *dirfd and tmp; commit renames it over path, abort removes it. */
int fsg_tmp_create(const struct fsg *g, const char *path, bool mkdirs,
		   int *dirfd, char *tmp, size_t tmpcap);
int fsg_tmp_commit(const struct fsg *g, int dirfd, const char *tmp,
		   const char *path);
void fsg_tmp_abort(int dirfd, const char *tmp);
/* The absolute path of a workspace path that must not exist yet and whose
 * parent resolves beneath the workspace (for git_clone). */
int fsg_new_abs(const struct fsg *g, const char *path, char *out, size_t cap);
/* Remove a tree beneath the workspace (a failed clone). */
void fsg_remove_tree(const struct fsg *g, const char *path);
/* A regular single-link file beneath the workspace, opened to read: the
 * fd, or a negative tools_err. */
int fsg_open_read(const struct fsg *g, const char *path);
/* The real absolute path of a directory beneath the workspace (created,
 * with its parents, when missing and create). */
int fsg_dir_abs(const struct fsg *g, const char *path, bool create, char *out,
		size_t cap);

/* ==== extract.c ============================================================ */

/* tools_extract from an open archive with explicit bounds (the tests use
 * small ones); `name` is the archive's name for messages. */
int extract_fd(int fd, const char *name, const char *dest_dir,
	       uint64_t max_entries, uint64_t max_bytes, size_t *n_files);

/* ==== http.c, git.c ====================================================== */

bool net_host_allowed(const char *host, const char *const *hosts, size_t n);

struct http_req {
	const char *url;
	const char *const *hosts;
	size_t n_hosts;
	uint64_t max_bytes;
	uint64_t timeout_ms;
	int fd;                  /* body goes here, or (fd < 0) to memory */
	char *body;              /* out: malloc'ed when fd < 0, NUL-terminated */
	uint64_t bytes;          /* out */
	long status;             /* out: the final HTTP status */
	char sha256[65];         /* out: hex of the body */
	char final_url[1024];    /* out */
	int redirects;           /* out */
};
int http_fetch(struct http_req *req);

int git_clone_to(const char *url, const char *dest, const char *commit,
		 const char *const *hosts, size_t n_hosts, char *head, size_t headcap);

/* approval.c */
struct approval;
int approval_open(struct approval **out, enum tools_approval mode,
		  tools_ask_fn ask, void *ud);
void approval_close(struct approval *a);
/* 0 to go ahead, TOOLS_EDENIED otherwise. */
int approval_check(struct approval *a, const char *skill, const char *tool,
		   const char *summary, const char *policy);

#endif
