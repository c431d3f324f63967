// llama_ref.mjs - llama.cpp on this machine, beside our numbers, for
// scripts/bench-engine.
//
// The reference figures are llama.cpp v0.5.0 on another machine of
// this kind.  This runs that same release (node-llama-cpp 3.22.1's prebuilt
// CPU binaries are built from llama.cpp release v0.5.0; bench-engine checks
// their build record) on the same files, threads and sitting as ours, so the
// two can be compared as a ratio whatever the host's load.
//
// It follows llama-bench's tests: ppP decodes P prompt tokens as one batch
// from an empty cache; tgN decodes N tokens one at a time from an empty
// cache (greedy-sampled here, where llama-bench feeds a fixed id: one argmax
// over the vocabulary per token).  With a depth D both start from D tokens
// already in the cache, put there before each run and not timed.  One
// warm-up of each, then R runs; prints llama-bench-style JSON records
// (n_prompt, n_gen, n_depth, avg_ts, stddev_ts, samples_ts, n_threads) on
// stdout.
//
// usage: node llama_ref.mjs MODULE_DIR MODEL.gguf P N R THREADS [D]
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [, , moduleDir, modelPath, P, N, R, T, D = "0"] = process.argv;
if (!T) {
	console.error("usage: node llama_ref.mjs MODULE_DIR MODEL.gguf P N R THREADS [D]");
	process.exit(2);
}
const nPrompt = +P, nGen = +N, reps = +R, threads = +T, depth = +D;
const require = createRequire(path.join(moduleDir, "package.json"));
const { getLlama } = await import(pathToFileURL(require.resolve("node-llama-cpp")).href);

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error", maxThreads: threads });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const ctx = await model.createContext({
	contextSize: depth + Math.max(nPrompt, nGen) + 16,
	batchSize: Math.max(nPrompt, 512),
	threads,
	flashAttention: false,
});
if (ctx.idealThreads !== threads) {
	console.error(`llama_ref: llama.cpp took ${ctx.idealThreads} threads, not ${threads}`);
	process.exit(1);
}
const seq = ctx.getSequence();
// llama-bench's prompt: random ids; a fixed spread here, the same every run
const ids = (n, k) => Array.from({ length: n }, (_, i) => 100 + (((i + k) * 7919) % 30000));
const prompt = ids(nPrompt, 0), fill = ids(depth, 1);
const bos = model.tokens.bos ?? 1;

// an empty cache, then the untimed depth
async function reset() {
	await seq.clearHistory();
	if (depth > 0)
		await seq.evaluateWithoutGeneratingNewTokens(fill);
}

async function pp() {
	await reset();
	const t0 = performance.now();
	await seq.evaluateWithoutGeneratingNewTokens(prompt);
	return nPrompt / ((performance.now() - t0) / 1000);
}

async function tg(n) {
	let k = 0;

	await reset();
	const t0 = performance.now();
	// each token yielded is one decode of the token before it
	for await (const _ of seq.evaluate([bos], { temperature: 0 }))
		if (++k >= n)
			break;
	return n / ((performance.now() - t0) / 1000);
}

function record(np, ng, samples) {
	const avg = samples.reduce((a, b) => a + b, 0) / samples.length;
	const sd = samples.length > 1
		? Math.sqrt(samples.reduce((a, b) => a + (b - avg) ** 2, 0) / (samples.length - 1)) : 0;
	return {
		build: "llama.cpp v0.5.0 (node-llama-cpp prebuilt, CPU)",
		model_filename: path.basename(modelPath),
		n_prompt: np, n_gen: ng, n_depth: depth, n_threads: threads,
		avg_ts: avg, stddev_ts: sd, samples_ts: samples,
	};
}

const out = [];
if (nPrompt > 0) {
	await pp();
	const s = [];
	for (let r = 0; r < reps; r++)
		s.push(await pp());
	out.push(record(nPrompt, 0, s));
}
if (nGen > 0) {
	await tg(Math.min(nGen, 8));
	const s = [];
	for (let r = 0; r < reps; r++)
		s.push(await tg(nGen));
	out.push(record(0, nGen, s));
}
console.log(JSON.stringify(out));
await ctx.dispose();
await model.dispose();
