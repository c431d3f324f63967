/* skills.h - the public interface of libhalo_skills: a Markdown install
 * skill read into a typed plan, the plan chosen for this machine, and the
 * plan carried out through the sandbox, recorded in the store, verified and
 * undone.
 *
 * Formats read (docs/SKILLS.md is the user's reference):
 *   - an Agent Skills folder: SKILL.md with YAML front matter (name,
 *     description, license, compatibility, metadata, allowed-tools) and a
 *     Markdown body, beside scripts/, references/, assets/;
 *   - a plain install document (README/INSTALL.md/install.md) without front
 *     matter: an H1, a summary, and steps.
 * Our own keys live under metadata: so skills stay valid elsewhere:
 *   halo-version, halo-requires (commands that must exist), halo-network
 *   (hosts downloads may reach), halo-prefix, halo-vars (NAME=VALUE ...).
 *
 * Errors: 0 or a negative enum skills_err; skills_errmsg() holds the
 * calling thread's last message, "file:line: message" where a place in a
 * file is at fault. */
#ifndef HALO_SKILLS_H
#define HALO_SKILLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum skills_err {
	SKILLS_OK = 0,
	SKILLS_EIO = -1,
	SKILLS_EPARSE = -2,    /* the document is malformed: file:line: message */
	SKILLS_EPLAN = -3,     /* nothing (or something impossible) applies here */
	SKILLS_EFAIL = -4,     /* a step failed; the message names it */
	SKILLS_EDENIED = -5,   /* refused by the approval policy or a human */
	SKILLS_ENOTFOUND = -6,
	SKILLS_ESTORE = -7,
};

const char *skills_errmsg(void);

/* ==== the document ====================================================== */

/* Where a step stands in the document, from its heading's text. */
enum skills_section {
	SKILLS_SEC_NONE = 0,     /* before any section heading */
	SKILLS_SEC_REQUIREMENTS,
	SKILLS_SEC_INSTALL,
	SKILLS_SEC_CONFIGURE,
	SKILLS_SEC_VERIFY,
	SKILLS_SEC_UNINSTALL,
	SKILLS_SEC_OTHER,        /* usage, troubleshooting, ...: never run */
};

enum skills_step_kind {
	SKILLS_STEP_SHELL = 0,   /* a fenced sh/bash/shell/console block */
	SKILLS_STEP_PACKAGES,    /* a package-manager install: checked, never run */
	SKILLS_STEP_FETCH,       /* a ```fetch block: url + sha256 (to, extract),
				  * or git (+ commit, to) */
	SKILLS_STEP_TEXT,        /* a code block that is not runnable (kept for the plan) */
};

#define SKILLS_MAX_COND 16

/* A platform condition: each list empty means "any".  Entries are lower
 * case: os "linux", "debian", "ubuntu", "fedora", "arch", "macos", ...;
 * arch "x86_64", "aarch64"; pm "apt", "dnf", "pacman", "brew", ... */
struct skills_cond {
	const char *os[SKILLS_MAX_COND];
	size_t n_os;
	const char *arch[SKILLS_MAX_COND];
	size_t n_arch;
	const char *pm[SKILLS_MAX_COND];
	size_t n_pm;
};

struct skills_step {
	enum skills_step_kind kind;
	enum skills_section section;
	unsigned line;           /* the opening fence's line in the file */
	const char *heading;     /* the nearest heading's text ("" if none) */
	const char *section_heading; /* the heading that decided `section` ("" if none) */
	const char *note;        /* the prose just before the block ("" if none) */
	const char *lang;        /* the info string's language ("" if none) */
	struct skills_cond when; /* from headings and the {os=... } attributes */
	/* Steps under sibling headings that each name a platform ("Debian",
	 * "Fedora", "macOS") are alternatives: the plan keeps the option that
	 * fits this machine best.  -1: not part of such a group.  These are
	 * the innermost choice; alt_groups/alt_options hold every choice the
	 * step is under, outermost first ("Linux" > "arm64"), so a "Debian"
	 * sibling of "Linux" is weighed against all of Linux's steps. */
	int alt_group;
	int alt_option;
#define SKILLS_MAX_ALT 4
	int alt_groups[SKILLS_MAX_ALT];
	int alt_options[SKILLS_MAX_ALT];
	size_t n_alt;
	/* SHELL: the script with console prompts and output removed, and for
	 * each of its lines the line in the file it came from. */
	const char *script;
	const unsigned *script_lines;
	size_t n_script_lines;
	bool root;               /* used sudo or a root prompt (removed) */
	const char *creates;     /* attribute: skipped when this path exists */
	const char *unless;      /* attribute: skipped when this command succeeds */
	/* PACKAGES */
	const char *pm;
	const char **packages;
	size_t n_packages;
	/* FETCH: a download (url + sha256) or a git clone (git + commit) */
	const char *url;
	const char *sha256;
	const char *git;         /* repository URL or local path */
	const char *commit;      /* the pinned commit, or NULL */
	const char *to;          /* file or folder name in the workspace */
	const char *extract;     /* directory to unpack into, or NULL */
};

enum skills_format {
	SKILLS_FORMAT_AGENT_SKILL = 0, /* front matter + body */
	SKILLS_FORMAT_DOCUMENT,        /* no front matter */
};

struct skills_kv {
	const char *key;
	const char *value;
};

#define SKILLS_MAX_META 64
#define SKILLS_MAX_LIST 32

struct skills_skill {
	const char *file;        /* as named in messages */
	enum skills_format format;
	const char *name;        /* front matter, else derived from the title */
	const char *description;
	const char *license;
	const char *compatibility;
	const char *version;     /* metadata.halo-version, or metadata.version */
	const char *title;       /* the H1 */
	const char *summary;     /* the first blockquote or paragraph after it */
	const char *prefix;      /* metadata.halo-prefix, or NULL */
	struct skills_kv meta[SKILLS_MAX_META];
	size_t n_meta;
	const char *allowed_tools[SKILLS_MAX_LIST];
	size_t n_allowed_tools;
	const char *hosts[SKILLS_MAX_LIST];    /* metadata.halo-network */
	size_t n_hosts;
	const char *requires[SKILLS_MAX_LIST]; /* metadata.halo-requires */
	size_t n_requires;
	struct skills_kv vars[SKILLS_MAX_LIST]; /* metadata.halo-vars defaults */
	size_t n_vars;
	struct skills_step *steps;
	size_t n_steps;
	const char **warnings;   /* "file:line: text" */
	size_t n_warnings;
	char sha256[65];         /* of the document's bytes */
	struct skills_arena *arena; /* owns every string above */
};

/* Limits on what a skill document may be. */
#define SKILLS_MAX_DOC (1u << 20)   /* bytes */
#define SKILLS_MAX_STEPS 256

/* Parse a document.  `file` names it in messages; `dir_name` is the name of
 * the folder holding a SKILL.md (the spec wants name == folder name; a
 * mismatch is a warning), or NULL.  On error nothing is left to free. */
int skills_parse(struct skills_skill *out, const char *file, const char *dir_name,
		 const char *text, size_t len);
/* Read and parse a file (a SKILL.md, an install document, or a folder with
 * SKILL.md in it). */
int skills_parse_path(struct skills_skill *out, const char *path);
void skills_skill_free(struct skills_skill *s);

const char *skills_section_name(enum skills_section s);
const char *skills_step_kind_name(enum skills_step_kind k);

/* ==== this machine ====================================================== */

struct skills_facts {
	char os[32];             /* "linux", "macos", ... (lower case) */
	char distro[64];         /* os-release ID */
	char distro_like[128];   /* os-release ID_LIKE, space separated */
	char version[64];        /* os-release VERSION_ID */
	char arch[32];           /* "x86_64", "aarch64" */
	char pms[128];           /* package managers present, space separated */
	/* Lookups; NULL answers "no".  ud is passed back. */
	bool (*has_command)(void *ud, const char *name);
	bool (*has_package)(void *ud, const char *pm, const char *package);
	void *ud;
};

/* The facts of the machine this runs on: uname, os-release, which package
 * managers and commands are in PATH, the dpkg database. */
void skills_facts_detect(struct skills_facts *f);

/* ==== the plan ========================================================== */

enum skills_verdict {
	SKILLS_RUN = 0,          /* will run */
	SKILLS_SKIP,             /* not for this machine / not part of installing */
	SKILLS_SATISFIED,        /* a requirement or check already met */
	SKILLS_MISSING,          /* a requirement not met: the plan cannot go on */
};

struct skills_plan_step {
	const struct skills_step *step;
	enum skills_verdict verdict;
	bool deferred;           /* an uninstall step that applies here: runs on remove */
	char reason[256];
};

struct skills_plan {
	const struct skills_skill *skill;
	struct skills_plan_step *steps;  /* one per skill step, in order */
	size_t n_steps;
	size_t n_run;                    /* RUN steps of install + configure */
	size_t n_verify;
	size_t n_uninstall;
	size_t n_missing;
	const char *missing_cmds[SKILLS_MAX_LIST]; /* halo-requires not found */
	size_t n_missing_cmds;
	char problem[512];               /* "" or why the plan cannot run here */
};

/* Choose the steps for these facts.  Never fails for lack of a match: an
 * empty or impossible plan is described in plan->problem. */
int skills_plan_make(struct skills_plan *out, const struct skills_skill *s,
		     const struct skills_facts *f);
void skills_plan_free(struct skills_plan *p);

/* The plan as JSON (for --dry-run --json and the spec tests): malloc'ed. */
char *skills_plan_json(const struct skills_plan *p, const struct skills_facts *f);

/* ==== carrying a plan out ================================================
 *
 * Layout under the data dir, per skill:
 *   skills/<name>/skill/   a copy of the skill (document and its folder):
 *                          what verify and remove read later; $SKILL_DIR,
 *                          read-only to the steps
 *   skills/<name>/work/    the steps' working directory ($WORKSPACE)
 * Every command runs in the sandbox (tools_sandbox_exec): the workspace and
 * the prefix writable, the skill copy read-only, no network (downloads are
 * ```fetch steps, done by halo-agent itself, to metadata.halo-network hosts
 * only, checked against their sha256).  The steps see PREFIX, SKILL_DIR,
 * WORKSPACE and the skill's halo-vars in their environment. */

struct store;

enum skills_event_kind {
	SKILLS_EV_STEP_BEGIN = 0, /* a step starts: n of m */
	SKILLS_EV_OUTPUT,         /* output of the running command */
	SKILLS_EV_STEP_END,       /* it ended: status, elapsed */
	SKILLS_EV_SKIP,           /* a step that does not run, and why */
	SKILLS_EV_INFO,           /* a line worth showing */
};

struct skills_event {
	enum skills_event_kind kind;
	const struct skills_step *step; /* NULL for INFO */
	const char *file;               /* the document's file name */
	size_t n, m;                    /* step n of m (1-based) */
	const char *phase;              /* "check", "install", "verify", "uninstall" */
	const char *text;               /* OUTPUT: bytes; SKIP/INFO: the message */
	size_t len;
	int stream;                     /* OUTPUT: 1 stdout, 2 stderr */
	int status;                     /* STEP_END: exit status (0 ok) */
	int64_t elapsed_ms;             /* STEP_END */
};

typedef enum skills_answer {
	SKILLS_ANSWER_NO = 0,
	SKILLS_ANSWER_YES = 1,
	SKILLS_ANSWER_ALWAYS = 2,       /* yes to this and every later step */
} skills_answer;

struct skills_run_opts {
	unsigned version;               /* SKILLS_RUN_OPTS_VERSION */
	const char *data_dir;           /* required */
	const char *prefix;             /* absolute; NULL = metadata.halo-prefix or ~/.local */
	const char *source;             /* what the user named, for the registry */
	const char *skill_dir;          /* the folder to copy as SKILL_DIR (NULL: the document only) */
	const struct skills_kv *set;    /* --set NAME=VALUE, over halo-vars */
	size_t n_set;
	bool dry_run;                   /* plan and checks only: nothing is written */
	bool force;                     /* run the install steps even if Verify passes */
	bool auto_approve;              /* --yes: no questions */
	/* Ask a human before a step runs: the step's commands and the sandbox
	 * policy.  NULL with auto_approve false: every step is refused. */
	skills_answer (*ask)(void *ud, const struct skills_step *st, const char *script,
			     const char *policy_json);
	void *ask_ud;
	void (*on_event)(void *ud, const struct skills_event *ev);
	void *ud;
	struct store *store;            /* the registry and the transcript; required */
	uint64_t timeout_ms;            /* per command; 0 = 600 s */
	uint64_t memory;                /* per command; 0 = the sandbox's default */
};
#define SKILLS_RUN_OPTS_VERSION 1
#define SKILLS_RUN_OPTS_INIT { .version = SKILLS_RUN_OPTS_VERSION }

struct skills_result {
	int64_t run_id;                 /* the transcript: `halo-agent runs show ID` */
	size_t n_ran, n_skipped;
	bool already;                   /* Verify passed before: nothing ran */
	bool verified;
	size_t n_files;                 /* files created under the prefix */
	char prefix[4096];
	/* on failure: the step (copied: valid after the skill is freed), its
	 * command, status, the tail of stderr */
	bool failed;
	enum skills_section failed_section;
	char failed_note[1024];         /* the prose before the step in the document */
	int failed_status;
	unsigned failed_line;           /* the line in the file of the failing command */
	char failed_command[512];
	char stderr_tail[2048];
};

/* Install: requirements, install and configure steps, then Verify; register
 * the skill (name, version, source, hash, files created, status).  On a
 * failing step it stops: files that step created under the prefix are
 * removed, the skill is registered as failed, and the error says which
 * command of which line failed.  Returns 0, or SKILLS_EPLAN (the plan
 * cannot run here), SKILLS_EFAIL, SKILLS_EDENIED, SKILLS_EIO, SKILLS_ESTORE. */
int skills_install(const struct skills_skill *s, const struct skills_plan *p,
		   const struct skills_facts *f, const struct skills_run_opts *o,
		   struct skills_result *res);

/* Run an installed skill's Verify section again and record the result. */
int skills_verify(const char *name, const struct skills_facts *f,
		  const struct skills_run_opts *o, struct skills_result *res);

/* Remove an installed skill: its Uninstall section if it has one, else the
 * files its install created under the prefix (those only, and only when
 * unchanged since).  Then it leaves the registry and its workspace goes. */
int skills_remove(const char *name, const struct skills_facts *f,
		  const struct skills_run_opts *o, struct skills_result *res);

/* Fetch a skill named by the user into a fresh folder under
 * <data_dir>/skills/.incoming/: a git URL (libgit2), an http(s) URL of a
 * document (libcurl, that host only), or nothing for a local path.  On
 * return *doc is the document to parse (a SKILL.md, or the named file) and
 * *dir its folder; both malloc'ed. */
int skills_fetch_source(const char *source, const char *data_dir, char **doc, char **dir);
/* Remove a folder skills_fetch_source made (a local folder is left alone). */
void skills_discard_source(const char *dir, const char *data_dir);

#ifdef __cplusplus
}
#endif

#endif
