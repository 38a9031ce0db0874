// bench_llamacpp.mjs — the llama.cpp side of `make bench-compare` (issue 13, part 6), through
// node-llama-cpp's prebuilt CPU build (installed by tools/bench_compare.sh under build/).
//
//   node tools/bench_llamacpp.mjs --model M.gguf --prompt-ids 0,17,... [--tokens 128]
//        [--threads 2] [--lora A.gguf,B.gguf,...] [--check-ids ID,ID,...] CELL...
//
// CELL is one of
//   c1        one stream: the prompt, then --tokens greedy tokens (one context, one sequence)
//   c8        8 streams at once in one context with 8 sequences (llama.cpp batches them)
//   c8_lora   8 streams at once, stream i with LoRA adapter i of --lora: llama.cpp applies LoRA
//             adapters per context, so this is 8 contexts (one sequence each, its own adapter),
//             all started at once — what a node-llama-cpp user serving 8 adapters would write
//   c8_lora_seq  the same 8 streams one after the other (one context at a time), for reference
// Every stream evaluates the same prompt token ids (so both engines see identical input) and
// generates exactly --tokens tokens: greedy (temperature 0), EOS yielded and generation continued
// (yieldEogToken), like symlorad's ignore_eos. tok_s = generated tokens of all streams / wall time
// from the first evaluate to the last token (prefill included: loadgen's tok_s is the same).
// Contexts are created before the clock starts and hold prompt + tokens + 16 positions per sequence.
// One JSON line per cell on stdout; a warm-up stream runs first (not timed).
// --check-ids: the greedy continuation symlorad produced for the prompt; the c1 cell reports
// how many of the leading tokens agree (a check that the converted GGUF computes the same model).
//
// Threads: getLlama({maxThreads: T}) and every context {threads: T}; node-llama-cpp splits the
// T threads among contexts evaluating at the same time. No download or build at run time
// (build: "never", gpu: false, usePrebuiltBinaries); without the prebuilt binary this fails.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

function die(msg) {
    process.stderr.write("bench_llamacpp: " + msg + "\n");
    process.exit(2);
}

const opts = { tokens: 128, threads: 2, lora: [], cells: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
        if (i + 1 >= argv.length) die(a + " needs a value");
        return argv[++i];
    };
    if (a === "--model") opts.model = v();
    else if (a === "--prompt-ids") opts.prompt = v().split(",").map(Number);
    else if (a === "--check-ids") opts.check = v().split(",").map(Number);
    else if (a === "--tokens") opts.tokens = Number(v());
    else if (a === "--threads") opts.threads = Number(v());
    else if (a === "--lora") opts.lora = v().split(",").filter((s) => s);
    else if (a.startsWith("--")) die("unknown option " + a);
    else opts.cells.push(a);
}
if (!opts.model || !opts.prompt || opts.prompt.some((t) => !Number.isInteger(t) || t < 0)) die("--model and --prompt-ids are required");
if (!(opts.tokens > 0) || !(opts.threads > 0)) die("--tokens and --threads must be positive");
for (const c of opts.cells) if (!["c1", "c8", "c8_lora", "c8_lora_seq"].includes(c)) die("unknown cell " + c);
if (opts.cells.some((c) => c.startsWith("c8_lora")) && opts.lora.length < 8) die("c8_lora needs 8 adapters in --lora");

// The installed node-llama-cpp's version (its package.json is not an export: found by path).
function nlcVersion() {
    const main = createRequire(import.meta.url).resolve("node-llama-cpp");
    for (let d = dirname(main); d !== dirname(d); d = dirname(d)) {
        try {
            const p = JSON.parse(readFileSync(join(d, "package.json"), "utf8"));
            if (p.name === "node-llama-cpp") return p.version;
        } catch { /* not there: one level up */ }
    }
    return null;
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

// Generates opts.tokens tokens after the prompt on SEQ; returns the generated ids.
async function stream(seq) {
    const out = [];
    for await (const tok of seq.evaluate(opts.prompt, { temperature: 0, yieldEogToken: true })) {
        out.push(tok);
        if (out.length >= opts.tokens) break;
    }
    return out;
}

const llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
                               maxThreads: opts.threads, logLevel: LlamaLogLevel.error, progressLogs: false });
const model = await llama.loadModel({ modelPath: opts.model, gpuLayers: 0 });
const perSeq = opts.prompt.length + opts.tokens + 16;
const info = { node_llama_cpp: nlcVersion(),
               llama_cpp_release: llama.llamaCppRelease?.release ?? null, build_type: llama.buildType ?? null,
               cpu_variant: null, threads: opts.threads, prompt_tokens: opts.prompt.length, max_tokens: opts.tokens };
process.stderr.write("bench_llamacpp: node-llama-cpp " + info.node_llama_cpp + ", llama.cpp " + info.llama_cpp_release +
                     ", " + info.build_type + " build, " + opts.threads + " threads\n");

async function context(sequences, lora) {
    return model.createContext({ contextSize: perSeq * sequences, sequences, threads: opts.threads,
                                 batchSize: 512, ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
}

function report(cell, n, tokens, t0, extra) {
    const wall = now() - t0;
    const line = { cell, engine: "llama.cpp", concurrency: n, tokens, wall_s: wall, tok_s: tokens / wall, ...info, ...extra };
    process.stdout.write(JSON.stringify(line) + "\n");
    process.stderr.write("bench_llamacpp: " + cell + ": " + (tokens / wall).toFixed(1) + " tok/s\n");
}

{   // warm-up (pages of the model, thread pool)
    const ctx = await context(1);
    const seq = ctx.getSequence();
    for await (const tok of seq.evaluate(opts.prompt, { temperature: 0, yieldEogToken: true })) { void tok; break; }
    await ctx.dispose();
}
for (const cell of opts.cells) {
    if (cell === "c1") {
        const ctx = await context(1);
        const t0 = now();
        const ids = await stream(ctx.getSequence());
        const extra = {};
        if (opts.check) {
            let k = 0;
            while (k < ids.length && k < opts.check.length && ids[k] === opts.check[k]) k++;
            extra.greedy_agree_prefix = k;
            extra.greedy_compared = Math.min(ids.length, opts.check.length);
        }
        extra.first_ids = ids.slice(0, 16);
        report(cell, 1, ids.length, t0, extra);
        await ctx.dispose();
    } else if (cell === "c8") {
        const ctx = await context(8);
        const seqs = Array.from({ length: 8 }, () => ctx.getSequence());
        const t0 = now();
        const res = await Promise.all(seqs.map(stream));
        report(cell, 8, res.reduce((s, r) => s + r.length, 0), t0, { contexts: 1, sequences: 8 });
        await ctx.dispose();
    } else if (cell === "c8_lora") {
        const ctxs = [];
        for (let i = 0; i < 8; i++) ctxs.push(await context(1, opts.lora[i]));
        const t0 = now();
        const res = await Promise.all(ctxs.map((c) => stream(c.getSequence())));
        report(cell, 8, res.reduce((s, r) => s + r.length, 0), t0, { contexts: 8, sequences: 1, adapters: 8 });
        for (const c of ctxs) await c.dispose();
    } else if (cell === "c8_lora_seq") {
        let tokens = 0;
        const ctxs = [];
        for (let i = 0; i < 8; i++) ctxs.push(await context(1, opts.lora[i]));
        const t0 = now();
        for (const c of ctxs) tokens += (await stream(c.getSequence())).length;
        report(cell, 8, tokens, t0, { contexts: 8, sequences: 1, adapters: 8, sequential: true });
        for (const c of ctxs) await c.dispose();
    }
}
await model.dispose();
await llama.dispose();
