/* tools.h - the public interface of libhalo_tools: facts about this machine,
 * the sandbox every command runs in, and the tool registry the agent and
 * skills use (shell, file tools confined to a workspace, http, git).
 *
 * Errors: 0 or a negative enum tools_err; tools_errmsg() holds the text of
 * the calling thread's last error. */
#ifndef HALO_TOOLS_H
#define HALO_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tools_err {
	TOOLS_OK = 0,
	TOOLS_EIO = -1,
	TOOLS_EINVAL = -2,     /* bad arguments: the message names the one at fault */
	TOOLS_EDENIED = -3,    /* the policy (or a human) refused it */
	TOOLS_ENOSANDBOX = -4, /* no confinement available and none waived */
	TOOLS_ENOTFOUND = -5,
	TOOLS_ECHECKSUM = -6,  /* a download's sha256 differs from the one asked for */
};

const char *tools_errmsg(void);

/* Replace every control character of s (< 0x20 and DEL) with '?', in
 * place: a message quoting text from a file, an archive or the user stays
 * on one line and cannot send escape sequences to the terminal. */
void tools_one_line(char *s);

/* ==== facts about this machine (sysinfo.c) ============================== */

struct tools_sysinfo {
	char os[64];          /* uname sysname: "Linux" */
	char kernel[128];     /* uname release */
	char arch[32];        /* uname machine: "x86_64" */
	char distro_id[64];   /* os-release ID: "debian" ("" if unknown) */
	char distro_version[64]; /* os-release VERSION_ID: "12" */
	char distro_name[128];   /* os-release PRETTY_NAME */
	char cpu_model[128];  /* /proc/cpuinfo "model name" */
	int cpu_count;        /* online logical CPUs */
	uint64_t mem_total;   /* bytes */
	uint64_t mem_available; /* bytes */
};

/* Fill *out; fields that cannot be read are left empty/zero. */
void tools_sysinfo_get(struct tools_sysinfo *out);

/* Free and total bytes of the file system holding `path` (or its nearest
 * existing parent directory). */
int tools_disk_space(const char *path, uint64_t *free_bytes, uint64_t *total_bytes);

/* ==== what the sandbox can use here (probe.c) =========================== */

struct tools_sandbox_caps {
	bool userns;            /* an unprivileged process can unshare(CLONE_NEWUSER) */
	char userns_detail[160]; /* why not, or a restriction worth knowing */
	int landlock_abi;       /* 0 = not available */
	char landlock_detail[160];
	bool seccomp;           /* seccomp filters (mode 2) available */
	char seccomp_detail[160];
	bool no_new_privs;      /* PR_SET_NO_NEW_PRIVS works */
};

void tools_sandbox_probe(struct tools_sandbox_caps *out);

/* ==== the sandbox (sandbox.c, sandbox_ns.c, landlock.c, seccomp.c) ======
 *
 * tools_sandbox_exec runs one command under a policy and captures its
 * output.  Layers, outermost first; each one that the kernel offers is
 * used, and the result says which were active:
 *   userns+mountns  a minimal root of bind mounts (system dirs read-only,
 *                   the workspace and rw paths read-write, no home), fresh
 *                   /proc, minimal /dev, tmpfs /tmp;
 *   pidns           the command's tree dies with its init; ipc/uts too;
 *   netns           network none: only a loopback nobody else shares;
 *   nnp+caps        PR_SET_NO_NEW_PRIVS, every capability dropped;
 *   landlock        filesystem (and TCP ports, signal and abstract-socket
 *                   scopes where the ABI has them) as a second layer;
 *   seccomp         ptrace, io_uring, mount, bpf, keyctl, ... denied;
 *   rlimits         memory, processes, file size, open files, CPU time.
 * With no filesystem confinement at all (neither namespaces nor Landlock)
 * it refuses to run unless allow_unsandboxed, which only a human sets. */

enum tools_net {
	TOOLS_NET_NONE = 0,
	TOOLS_NET_HOST = 1,
};

enum tools_layer {
	TOOLS_LAYER_USERNS = 1u << 0,
	TOOLS_LAYER_MOUNTNS = 1u << 1,
	TOOLS_LAYER_PIDNS = 1u << 2,
	TOOLS_LAYER_IPCNS = 1u << 3,   /* ipc and uts */
	TOOLS_LAYER_NETNS = 1u << 4,
	TOOLS_LAYER_NNP = 1u << 5,     /* no_new_privs and all capabilities dropped */
	TOOLS_LAYER_LANDLOCK_FS = 1u << 6,
	TOOLS_LAYER_LANDLOCK_NET = 1u << 7,
	TOOLS_LAYER_LANDLOCK_SCOPE = 1u << 8,
	TOOLS_LAYER_SECCOMP = 1u << 9,
	TOOLS_LAYER_RLIMITS = 1u << 10,
};
#define TOOLS_LAYER_NAMESPACES (TOOLS_LAYER_USERNS | TOOLS_LAYER_MOUNTNS | \
				TOOLS_LAYER_PIDNS | TOOLS_LAYER_IPCNS | TOOLS_LAYER_NETNS)
#define TOOLS_LAYER_LANDLOCK (TOOLS_LAYER_LANDLOCK_FS | TOOLS_LAYER_LANDLOCK_NET | \
			      TOOLS_LAYER_LANDLOCK_SCOPE)
#define TOOLS_LAYER_ALL 0x7ffu

#define TOOLS_SANDBOX_MAX_PATHS 32
#define TOOLS_SANDBOX_MAX_ENV 32

struct tools_sandbox_policy {
	unsigned version;          /* TOOLS_SANDBOX_POLICY_VERSION */
	const char *workspace;     /* absolute; read-write; the working directory */
	const char *ro[TOOLS_SANDBOX_MAX_PATHS]; /* extra read-only paths */
	size_t n_ro;
	const char *rw[TOOLS_SANDBOX_MAX_PATHS]; /* extra read-write paths */
	size_t n_rw;
	enum tools_net network;
	const char *env[TOOLS_SANDBOX_MAX_ENV];  /* "NAME=value", added to the allow-list */
	size_t n_env;
	uint64_t timeout_ms;       /* wall clock; 0 = 600 s */
	uint64_t memory;           /* address space bytes; 0 = 4 GiB */
	uint64_t nproc;            /* processes; 0 = 256 */
	uint64_t fsize;            /* largest file written; 0 = 1 GiB */
	uint64_t nofile;           /* open files; 0 = 256 */
	uint64_t cpu_s;            /* CPU seconds; 0 = the timeout's */
	size_t out_cap;            /* bytes kept of stdout and of stderr; 0 = 1 MiB */
	bool allow_unsandboxed;    /* a human's flag: run even with no confinement */
	unsigned skip_layers;      /* tools_layer bits to treat as unavailable
				    * (diagnosis and the tests' layer-by-layer proofs) */
	/* Called from the capture loop with each chunk the command writes, as
	 * it arrives, in order per stream (1 stdout, 2 stderr): every byte,
	 * those past out_cap included (counted, not kept).  The sandbox's own
	 * "halo-agent: sandbox: ..." line for an exec failure comes as stream 2
	 * too.  On the calling thread; buf is valid during the call only.
	 * NULL: output is only captured. */
	void (*on_output)(void *ud, int stream, const char *buf, size_t len);
	void *on_output_ud;
};
#define TOOLS_SANDBOX_POLICY_VERSION 1
#define TOOLS_SANDBOX_POLICY_INIT { .version = TOOLS_SANDBOX_POLICY_VERSION }

struct tools_exec_result {
	int exit_code;          /* 0..255 when it exited, -1 when a signal ended it */
	int signal;             /* the signal that ended it, or 0 */
	bool timed_out;         /* killed (with its whole tree) at the timeout */
	int64_t duration_us;
	char *out, *err;        /* captured, NUL-terminated, at most out_cap bytes */
	size_t out_len, err_len;
	uint64_t out_total, err_total; /* bytes the command wrote */
	bool out_truncated, err_truncated;
	unsigned layers;        /* tools_layer bits that were active */
	int landlock_abi;       /* the ABI used, 0 if none */
	char notice[320];       /* why layers are missing; "" when all were used */
};

/* Run argv[0] (searched in PATH inside the sandbox) under *p.  Returns 0
 * when the command ran (whatever its exit status; see *out), or
 * TOOLS_EINVAL (bad policy), TOOLS_ENOSANDBOX, TOOLS_EIO (could not set up:
 * the message says which step).  Free *out with tools_exec_result_clear. */
int tools_sandbox_exec(struct tools_exec_result *out,
		       const struct tools_sandbox_policy *p,
		       const char *const *argv);
void tools_exec_result_clear(struct tools_exec_result *r);

/* Name of one layer bit ("userns", "landlock-fs", ...). */
const char *tools_layer_name(unsigned bit);
/* The layers as "userns,mountns,..." into buf; returns buf. */
char *tools_layers_str(unsigned layers, char *buf, size_t cap);
/* The layers the sandbox would use here for this network mode, and why
 * others are missing (into notice, may be NULL). */
unsigned tools_sandbox_layers_available(enum tools_net net, char *notice,
					size_t cap);
/* The policy and the layers of a run as a JSON object (for the audit log),
 * malloc'ed; r may be NULL. */
char *tools_sandbox_policy_json(const struct tools_sandbox_policy *p,
				const struct tools_exec_result *r);

/* ==== archives (extract.c) ===============================================
 *
 * tools_extract unpacks a tar, tar.gz, tar.xz, tar.bz2 or zip archive
 * beneath dest_dir, which must exist (extract into a fresh directory).
 * Refused with TOOLS_EDENIED, the message naming the entry: absolute
 * names, '..' components, symlinks that point outside dest_dir (or are
 * absolute), hard links to anything but a regular file extracted before,
 * device nodes, FIFOs and sockets; more than TOOLS_EXTRACT_MAX_ENTRIES
 * entries or TOOLS_EXTRACT_MAX_BYTES bytes.  Permissions keep their rwx
 * bits only (no setuid, setgid, sticky), under the umask; owners and
 * extended attributes are not restored.  On failure the entries extracted
 * so far stay in dest_dir.  *n_files (may be NULL) gets the number of
 * entries written.  TOOLS_EINVAL: not an archive this reads, or dest_dir
 * is not a directory; TOOLS_ENOTFOUND: no such archive; TOOLS_EIO. */
#define TOOLS_EXTRACT_MAX_ENTRIES 100000u
#define TOOLS_EXTRACT_MAX_BYTES (4ull << 30)

int tools_extract(const char *archive, const char *dest_dir, size_t *n_files);

/* ==== the tools (registry.c, fsguard.c, http.c, git.c, extract.c, approval.c)
 *
 * A tool has a name, a JSON schema for its arguments, a validator that
 * names the argument at fault, and a result: text for the model plus
 * structured fields.  Every call, refused or not, is an entry in the audit
 * log when the context has a store and a run.
 *   shell       {command, timeout?}: /bin/sh -c in the sandbox (approval)
 *   read_file   {path, offset?, max_bytes?}
 *   write_file  {path, content, create_dirs?}
 *   edit_file   {path, old_string, new_string, replace_all?}
 *   list_dir    {path?, max_entries?}
 *   http_get    {url, max_bytes?}
 *   download    {url, path, sha256?}
 *   git_clone   {url, path, commit?}
 *   extract     {path, to}: an archive of the workspace unpacked into the
 *               directory `to` (created when missing) by tools_extract
 * File tools are confined to the workspace: paths resolve beneath it
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), and
 * files with more than one hard link are refused.  Network tools only
 * reach hosts on the allow-list, redirects included. */

struct store;

enum tools_approval {
	TOOLS_APPROVAL_ASK = 0,   /* ask a human for each command (default) */
	TOOLS_APPROVAL_AUTO = 1,  /* run anything inside the sandbox */
	TOOLS_APPROVAL_DENY = 2,  /* run no command */
};

enum tools_answer {
	TOOLS_ANSWER_NO = 0,
	TOOLS_ANSWER_YES = 1,
	TOOLS_ANSWER_ALWAYS = 2,  /* yes, and for the rest of this skill */
};

/* Ask a human about one call: `summary` is the command line, `policy` the
 * sandbox policy as JSON. */
typedef enum tools_answer (*tools_ask_fn)(void *ud, const char *tool,
					  const char *summary, const char *policy);

/* Ask on /dev/tty: prints the command and the policy, reads y / n / a.
 * Answers NO when there is no terminal. */
enum tools_answer tools_ask_tty(void *ud, const char *tool, const char *summary,
				const char *policy);

#define TOOLS_MAX_HOSTS 32

struct tools_ctx_opts {
	unsigned version;                 /* TOOLS_CTX_OPTS_VERSION */
	struct tools_sandbox_policy policy; /* for shell; its workspace is the tools';
					     * its on_output streams the shell
					     * tool's output as it comes */
	const char *hosts[TOOLS_MAX_HOSTS]; /* "example.com", "*.example.com" */
	size_t n_hosts;
	enum tools_approval approval;
	tools_ask_fn ask;                 /* NULL: ASK means no */
	void *ask_ud;
	const char *skill;                /* whose calls these are, for ALWAYS */
	struct store *store;              /* audit log; NULL = none */
	int64_t run_id;
	size_t max_file;                  /* read/write cap; 0 = 4 MiB */
	uint64_t max_download;            /* 0 = 256 MiB */
	uint64_t net_timeout_ms;          /* 0 = 60 s */
};
#define TOOLS_CTX_OPTS_VERSION 1
#define TOOLS_CTX_OPTS_INIT { .version = TOOLS_CTX_OPTS_VERSION, \
	.policy = TOOLS_SANDBOX_POLICY_INIT }

struct tools_ctx; /* opaque */

/* o->policy.workspace must name an existing directory. */
int tools_ctx_open(struct tools_ctx **out, const struct tools_ctx_opts *o);
void tools_ctx_close(struct tools_ctx *ctx); /* accepts NULL */

struct tools_result {
	char *text;        /* for the model: output, or what went wrong */
	char *fields;      /* JSON object: exit_status, bytes, path, sha256, ... */
	int exit_status;   /* shell: the command's (128+N for signal N, 124 at
			    * the timeout); others 0, or -1 on failure */
	uint64_t out_bytes;
	bool truncated;
};

/* Validate args_json against the tool's schema, ask for approval where the
 * tool needs it, run it, and log it.  Returns 0 when the tool ran (the
 * result may still report a failing command), or TOOLS_EINVAL (bad
 * arguments: the message names the one at fault), TOOLS_ENOTFOUND (no such
 * tool), TOOLS_EDENIED, TOOLS_ECHECKSUM, TOOLS_EIO ...; out->text then
 * holds the message too. */
int tools_call(struct tools_ctx *ctx, const char *name, const char *args_json,
	       struct tools_result *out);
void tools_result_clear(struct tools_result *r);

/* The catalog: i from 0 while tools_name(i) != NULL. */
const char *tools_name(size_t i);
const char *tools_description(size_t i);
const char *tools_schema(size_t i); /* JSON text */

#ifdef __cplusplus
}
#endif

#endif
