/* cmd_doctor.c - `halo-agent doctor`: what this machine offers, and what
 * each finding means for the user.
 *
 * The facts come from the libraries (tools: system and sandbox; engine: CPU
 * kernels and Vulkan devices); this file only turns them into findings.
 * Every finding has a level (ok, info, warn, fail), an area and a sentence.
 * Only an unusable data dir makes doctor fail: everything else degrades.
 *
 * Bandwidth: decoding is bound by memory reads, so doctor measures what
 * each device reads per second (a shader over a 64 MiB buffer on each
 * Vulkan device; threads summing a 128 MiB buffer on the CPU) and, with
 * -m FILE.gguf, divides it by the bytes the model reads per token: the
 * tokens-per-second ceiling of each device.  Kept well under 2 s. */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "tools.h"

struct findings {
	json_t *list; /* [{level, area, message}] */
	bool failed;
};

static void finding(struct findings *fs, const char *level, const char *area,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void finding(struct findings *fs, const char *level, const char *area,
		    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(fs->list, json_pack("{s:s, s:s, s:s}", "level", level,
						  "area", area, "message", msg));
	if (strcmp(level, "fail") == 0)
		fs->failed = true;
}

static double gib(uint64_t b)
{
	return (double)b / (1024.0 * 1024.0 * 1024.0);
}

static json_t *system_facts(const struct app *app, struct findings *fs)
{
	struct tools_sysinfo si;
	struct engine_cpu_caps caps;
	uint64_t dfree = 0, dtotal = 0;
	json_t *o, *simd = json_array();

	tools_sysinfo_get(&si);
	engine_cpu_caps_get(&caps);
#define SIMD(flag) if (caps.flag) json_array_append_new(simd, json_string(#flag))
	SIMD(avx2); SIMD(fma); SIMD(f16c); SIMD(avx512f); SIMD(avx512bw);
	SIMD(avx512vl); SIMD(avx512vnni); SIMD(avx512bf16);
#undef SIMD
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:s, s:I, s:I}",
		      "os", si.os, "distro", si.distro_name,
		      "distro_id", si.distro_id, "distro_version", si.distro_version,
		      "kernel", si.kernel, "arch", si.arch, "cpu_model", si.cpu_model,
		      "cpu_count", si.cpu_count, "simd", simd,
		      "cpu_kernels", engine_isa_name(caps.active),
		      "mem_total", (json_int_t)si.mem_total,
		      "mem_available", (json_int_t)si.mem_available);

	if (strcmp(si.os, "Linux") != 0)
		finding(fs, "warn", "system", "%s is not Linux: the sandbox needs Linux "
			"namespaces, Landlock and seccomp", si.os);
	else
		finding(fs, "ok", "system", "%s, kernel %s, %s",
			*si.distro_name ? si.distro_name : "unknown distro", si.kernel,
			si.arch);
	finding(fs, "info", "cpu", "%s, %d threads; CPU kernels: %s%s",
		*si.cpu_model ? si.cpu_model : "unknown CPU", si.cpu_count,
		engine_isa_name(caps.active),
		caps.active == ENGINE_ISA_SCALAR ?
		" (no AVX2: the CPU backend runs its portable kernels, several times slower)" :
		caps.forced ? " (lowered by HALO_CPU_ISA)" : "");
	finding(fs, si.mem_available && si.mem_available < (2ull << 30) ? "warn" : "ok",
		"memory", "%.1f GiB total, %.1f GiB available: models up to about "
		"%.0f GiB fit in memory", gib(si.mem_total), gib(si.mem_available),
		gib(si.mem_available) * 0.8);

	if (tools_disk_space(app->data_dir, &dfree, &dtotal) == 0) {
		json_object_set_new(o, "disk_free", json_integer((json_int_t)dfree));
		json_object_set_new(o, "disk_total", json_integer((json_int_t)dtotal));
		finding(fs, dfree < (1ull << 30) ? "warn" : "ok", "disk",
			"%.1f GiB free for the data dir %s%s", gib(dfree), app->data_dir,
			dfree < (1ull << 30) ? ": too little for a model; free space or "
			"use --data-dir" : "");
	} else {
		finding(fs, "fail", "disk", "cannot check the data dir: %s", tools_errmsg());
	}
	json_object_set_new(o, "data_dir", json_string(app->data_dir));
	return o;
}

static json_t *sandbox_facts(struct findings *fs)
{
	struct tools_sandbox_caps c;

	tools_sandbox_probe(&c);
	if (c.userns)
		finding(fs, "ok", "sandbox", "user namespaces: %s; commands run in their "
			"own mount, pid and network namespaces", c.userns_detail);
	else
		finding(fs, "warn", "sandbox", "user namespaces: %s; the sandbox falls "
			"back to Landlock, seccomp and rlimits and says so for each run",
			c.userns_detail);
	if (c.landlock_abi > 0)
		finding(fs, "ok", "sandbox", "Landlock %s: file access is also limited "
			"by the kernel%s", c.landlock_detail,
			c.landlock_abi >= 4 ? ", TCP ports too" : "");
	else
		finding(fs, "warn", "sandbox", "Landlock: %s; the namespace layer alone "
			"limits file access", c.landlock_detail);
	finding(fs, c.seccomp ? "ok" : "warn", "sandbox", "seccomp: %s%s",
		c.seccomp_detail, c.seccomp ? "" : "; dangerous system calls cannot be "
		"blocked, so commands get less isolation");
	return json_pack("{s:b, s:s, s:i, s:s, s:b, s:s, s:b}",
			 "user_namespaces", c.userns, "user_namespaces_detail",
			 c.userns_detail, "landlock_abi", c.landlock_abi,
			 "landlock_detail", c.landlock_detail, "seccomp", c.seccomp,
			 "seccomp_detail", c.seccomp_detail, "no_new_privs",
			 c.no_new_privs);
}

static void version_text(uint32_t v, char *buf, size_t n)
{
	snprintf(buf, n, "%u.%u.%u", (v >> 22) & 0x7f, (v >> 12) & 0x3ff, v & 0xfff);
}

static json_t *vk_device_json(const struct engine_vk_device *d)
{
	char api[32];
	json_t *heaps = json_array();

	version_text(d->api_version, api, sizeof(api));
	for (uint32_t h = 0; h < d->n_heaps; h++)
		json_array_append_new(heaps, json_pack("{s:I, s:b}",
			"size", (json_int_t)d->heaps[h].size,
			"device_local", d->heaps[h].device_local));
	return json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:i, s:i, s:i, s:b,"
			 " s:i, s:I, s:i, s:b, s:b, s:b, s:b, s:b, s:b, s:o}",
		"name", d->name, "type", d->type, "vendor_id", (int)d->vendor_id,
		"device_id", (int)d->device_id, "api_version", api,
		"driver", d->driver_name, "driver_info", d->driver_info,
		"subgroup_size", (int)d->subgroup_size,
		"subgroup_min", (int)d->subgroup_min,
		"subgroup_max", (int)d->subgroup_max,
		"subgroup_arithmetic", d->subgroup_arithmetic,
		"max_shared_memory", (int)d->max_shared_memory,
		"max_storage_buffer_range", (json_int_t)d->max_storage_buffer_range,
		"max_workgroup_invocations", (int)d->max_workgroup_invocations,
		"storage_16bit", d->storage_16bit, "storage_8bit", d->storage_8bit,
		"float16", d->float16, "int8", d->int8,
		"integer_dot", d->integer_dot,
		"device_local_host_visible", d->device_local_host_visible,
		"heaps", heaps);
}


#define CPU_BW_BYTES ((size_t)128 << 20)
#define VK_BW_BYTES ((size_t)64 << 20)
#define CPU_BW_THREADS 8

struct bw_part {
	const uint64_t *p;
	size_t n;
	uint64_t sum;
};

static void *bw_read(void *arg)
{
	struct bw_part *b = arg;
	uint64_t s[4] = { 0, 0, 0, 0 };

	for (size_t i = 0; i + 4 <= b->n; i += 4) {
		s[0] += b->p[i];
		s[1] += b->p[i + 1];
		s[2] += b->p[i + 2];
		s[3] += b->p[i + 3];
	}
	b->sum = s[0] + s[1] + s[2] + s[3];
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* GB/s the CPU reads with up to CPU_BW_THREADS threads; 0 on failure. */
static double cpu_bandwidth(int n_threads)
{
	uint64_t *buf = malloc(CPU_BW_BYTES);
	pthread_t th[CPU_BW_THREADS];
	struct bw_part parts[CPU_BW_THREADS];
	double best = 0;
	size_t words = CPU_BW_BYTES / 8;

	if (buf == NULL)
		return 0;
	if (n_threads < 1)
		n_threads = 1;
	if (n_threads > CPU_BW_THREADS)
		n_threads = CPU_BW_THREADS;
	memset(buf, 1, CPU_BW_BYTES);
	for (int run = 0; run < 3; run++) {
		double t0 = now_s(), dt;
		int started = 0;

		for (int i = 0; i < n_threads; i++) {
			parts[i] = (struct bw_part){ buf + words / n_threads * i,
						     words / n_threads, 0 };
			if (pthread_create(&th[i], NULL, bw_read, &parts[i]) == 0)
				started++;
			else
				bw_read(&parts[i]);
		}
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		dt = now_s() - t0;
		if (dt > 0 && (double)CPU_BW_BYTES / dt / 1e9 > best)
			best = (double)CPU_BW_BYTES / dt / 1e9;
	}
	free(buf);
	return best;
}

static json_t *vulkan_facts(struct findings *fs)
{
	struct engine_vk_info vi;
	json_t *o, *devs = json_array();
	int n_gpu = 0;
	char ver[32];

	if (engine_vk_probe(&vi) < 0) {
		finding(fs, "warn", "vulkan", "%s", engine_errmsg());
		return json_pack("{s:b, s:o}", "loader", false, "devices", devs);
	}
	version_text(vi.instance_version, ver, sizeof(ver));
	if (!vi.loader_found)
		finding(fs, "warn", "vulkan", "%s: the engine will use the CPU backend "
			"(install a Vulkan loader and driver, e.g. libvulkan1 and "
			"mesa-vulkan-drivers, for GPU inference)", vi.loader_error);
	else if (vi.n_devices == 0)
		finding(fs, "warn", "vulkan", "no Vulkan device%s%s: the engine will use "
			"the CPU backend", *vi.loader_error ? ": " : "", vi.loader_error);
	for (size_t i = 0; i < vi.n_devices; i++) {
		const struct engine_vk_device *d = &vi.devices[i];
		uint64_t local = 0;

		json_t *dj = vk_device_json(d);
		double gbs = 0;

		if (engine_vk_bandwidth((int)i, VK_BW_BYTES, &gbs) == 0) {
			json_object_set_new(dj, "bandwidth_gbs", json_real(gbs));
			finding(fs, "info", "vulkan", "device %zu: reads %.1f GB/s (measured)",
				i, gbs);
		} else {
			finding(fs, "warn", "vulkan", "device %zu: cannot measure its bandwidth: %s",
				i, engine_errmsg());
		}
		json_array_append_new(devs, dj);
		for (uint32_t h = 0; h < d->n_heaps; h++)
			if (d->heaps[h].device_local)
				local += d->heaps[h].size;
		if (strcmp(d->type, "cpu") == 0) {
			finding(fs, "info", "vulkan", "device %zu: %s (%s): a CPU "
				"implementation of Vulkan; used only with --backend vulkan "
				"--device %zu (tests do), never picked by auto", i, d->name,
				*d->driver_name ? d->driver_name : "software", i);
			continue;
		}
		if (strcmp(d->type, "integrated") == 0 || strcmp(d->type, "discrete") == 0)
			n_gpu++;
		finding(fs, d->storage_16bit ? "ok" : "warn", "vulkan",
			"device %zu: %s, %s GPU, driver %s, %.1f GiB device-local%s, "
			"subgroup %u%s", i, d->name, d->type,
			*d->driver_name ? d->driver_name : "?", gib(local),
			d->device_local_host_visible ? " (host-visible: zero-copy uploads)" : "",
			d->subgroup_size,
			d->storage_16bit ? "" : "; lacks 16-bit storage, which the "
			"backend needs: the CPU backend will be used");
	}
	if (vi.loader_found && vi.n_devices > 0 && n_gpu == 0)
		finding(fs, "info", "vulkan", "no Vulkan GPU: --backend auto uses the "
			"CPU backend");
	else if (n_gpu > 0)
		finding(fs, "ok", "vulkan", "--backend auto will run models on the "
			"Vulkan GPU");
	o = json_pack("{s:b, s:s, s:s, s:o}", "loader", vi.loader_found,
		      "instance_version", vi.loader_found ? ver : "",
		      "error", vi.loader_error, "devices", devs);
	engine_vk_info_free(&vi);
	return o;
}

/* The facts behind the Vulkan findings, one block per device. */
static void print_devices(json_t *devs)
{
	size_t i, h;
	json_t *d, *heap;

	json_array_foreach(devs, i, d) {
		printf("\nvulkan device %zu: %s\n", i,
		       json_string_value(json_object_get(d, "name")));
		printf("  type %s, API %s, driver %s (%s)\n",
		       json_string_value(json_object_get(d, "type")),
		       json_string_value(json_object_get(d, "api_version")),
		       json_string_value(json_object_get(d, "driver")),
		       json_string_value(json_object_get(d, "driver_info")));
		printf("  subgroup %lld (min %lld, max %lld, arithmetic %s), shared memory "
		       "%lld KiB, max storage buffer range %lld MiB, workgroup %lld\n",
		       json_integer_value(json_object_get(d, "subgroup_size")),
		       json_integer_value(json_object_get(d, "subgroup_min")),
		       json_integer_value(json_object_get(d, "subgroup_max")),
		       json_is_true(json_object_get(d, "subgroup_arithmetic")) ? "yes" : "no",
		       json_integer_value(json_object_get(d, "max_shared_memory")) / 1024,
		       json_integer_value(json_object_get(d, "max_storage_buffer_range")) >> 20,
		       json_integer_value(json_object_get(d, "max_workgroup_invocations")));
		printf("  16-bit storage %s, 8-bit storage %s, fp16 %s, int8 %s, integer dot %s\n",
		       json_is_true(json_object_get(d, "storage_16bit")) ? "yes" : "no",
		       json_is_true(json_object_get(d, "storage_8bit")) ? "yes" : "no",
		       json_is_true(json_object_get(d, "float16")) ? "yes" : "no",
		       json_is_true(json_object_get(d, "int8")) ? "yes" : "no",
		       json_is_true(json_object_get(d, "integer_dot")) ? "yes" : "no");
		json_array_foreach(json_object_get(d, "heaps"), h, heap)
			printf("  heap %zu: %.1f GiB%s\n", h,
			       gib((uint64_t)json_integer_value(json_object_get(heap, "size"))),
			       json_is_true(json_object_get(heap, "device_local")) ?
			       " device-local" : "");
	}
}

static void print_human(json_t *list)
{
	size_t i;
	json_t *f;

	json_array_foreach(list, i, f) {
		const char *level = json_string_value(json_object_get(f, "level"));
		const char *mark = strcmp(level, "ok") == 0 ? "ok  " :
				   strcmp(level, "info") == 0 ? "info" :
				   strcmp(level, "warn") == 0 ? "WARN" : "FAIL";

		printf("[%s] %-8s %s\n", mark,
		       json_string_value(json_object_get(f, "area")),
		       json_string_value(json_object_get(f, "message")));
	}
}

/* -m FILE: bytes read per token and the tok/s ceiling of each device. */
static json_t *model_facts(const char *path, json_t *system, json_t *vulkan,
			   struct findings *fs)
{
	struct gguf_file *g;
	struct engine_model_info mi;
	json_t *o, *ceil = json_array(), *d;
	double cpu_bw = json_real_value(json_object_get(system, "cpu_bandwidth_gbs"));
	size_t i;

	if (gguf_open(&g, path) < 0 || engine_model_info(&mi, g) < 0) {
		finding(fs, "warn", "model", "%s", engine_errmsg());
		gguf_close(g);
		return json_pack("{s:s}", "path", path);
	}
	gguf_close(g);
	o = json_pack("{s:s, s:I}", "path", path, "bytes_per_token",
		      (json_int_t)mi.bytes_per_token);
	if (mi.bytes_per_token == 0) {
		finding(fs, "warn", "model", "%s: no tensor data", path);
		json_decref(ceil);
		return o;
	}
	if (cpu_bw > 0) {
		double tps = cpu_bw * 1e9 / (double)mi.bytes_per_token;

		json_array_append_new(ceil, json_pack("{s:s, s:f}", "device", "cpu",
						      "tok_s", tps));
		finding(fs, "info", "model", "%s reads %.1f MiB per token: at most %.1f tok/s "
			"on the CPU (%.1f GB/s)", path, (double)mi.bytes_per_token / 1048576.0,
			tps, cpu_bw);
	}
	json_array_foreach(json_object_get(vulkan, "devices"), i, d) {
		double bw = json_real_value(json_object_get(d, "bandwidth_gbs"));
		double tps = bw * 1e9 / (double)mi.bytes_per_token;
		char name[32];

		if (bw <= 0)
			continue;
		snprintf(name, sizeof(name), "vulkan%zu", i);
		json_array_append_new(ceil, json_pack("{s:s, s:f}", "device", name,
						      "tok_s", tps));
		finding(fs, "info", "model", "at most %.1f tok/s on Vulkan device %zu (%s, "
			"%.1f GB/s)", tps, i, json_string_value(json_object_get(d, "name")), bw);
	}
	json_object_set_new(o, "tok_s_ceiling", ceil);
	return o;
}

int cmd_doctor(struct app *app, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct findings fs = { NULL, false };
	const char *model = NULL;
	json_t *report, *sys, *vk;
	double cpu_bw;
	long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
	int opt;

	while ((opt = cli_getopt(argc, argv, "m:", longopts)) != -1) {
		if (opt == 'm')
			model = optarg;
		else
			return cli_help_or_usage(argv[0], opt);
	}
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	fs.list = json_array();
	report = json_object();
	sys = system_facts(app, &fs);
	cpu_bw = cpu_bandwidth(n_cpu > 0 ? (int)n_cpu : 1);
	json_object_set_new(sys, "cpu_bandwidth_gbs", json_real(cpu_bw));
	finding(&fs, "info", "cpu", "memory reads at %.1f GB/s from the CPU (measured)", cpu_bw);
	json_object_set_new(report, "system", sys);
	json_object_set_new(report, "sandbox", sandbox_facts(&fs));
	vk = vulkan_facts(&fs);
	json_object_set_new(report, "vulkan", vk);
	if (model)
		json_object_set_new(report, "model", model_facts(model, sys, vk, &fs));
	json_object_set_new(report, "findings", fs.list);
	if (app->json) {
		json_dumpf(report, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		print_human(fs.list);
		print_devices(json_object_get(json_object_get(report, "vulkan"), "devices"));
	}
	json_decref(report);
	return fs.failed ? EXIT_FAIL : EXIT_OK;
}
