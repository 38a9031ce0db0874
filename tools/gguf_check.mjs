// gguf_check.mjs — checks tools/hf2gguf.py on the fixtures: llama.cpp (node-llama-cpp) runs the
// converted fixture model, alone or with a converted fixture LoRA adapter, on every fixture
// prompt and its 12 greedy tokens are compared with the continuations Hugging Face transformers
// and peft produced (tests/fixtures/expected/expected.json). Run by tools/bench_compare.sh.
//
//   node gguf_check.mjs EXPECTED.json MODEL_NAME MODEL.gguf CASE [LORA.gguf]
//
// Prints one JSON line {model, case, equal, prompts, first_difference}. A tiny random model's
// top two logits can lie 1e-4 apart, and llama.cpp keeps its KV cache in F16, so a continuation
// may leave the reference at such a near-tie; first_difference shows where.
import { readFileSync } from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [expectedPath, name, modelPath, caseName, lora] = process.argv.slice(2);
if (!caseName) {
    process.stderr.write("usage: node gguf_check.mjs EXPECTED.json MODEL_NAME MODEL.gguf CASE [LORA.gguf]\n");
    process.exit(2);
}
const exp = JSON.parse(readFileSync(expectedPath, "utf8")).models[name];
const want = exp?.cases?.[caseName]?.greedy;
if (!want) {
    process.stderr.write("gguf_check: no greedy reference for " + name + " / " + caseName + "\n");
    process.exit(2);
}
const llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true, maxThreads: 1,
                               logLevel: LlamaLogLevel.error, progressLogs: false });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
let equal = 0;
let first = null;
for (let p = 0; p < exp.prompts.length; p++) {
    const ctx = await model.createContext({ contextSize: 256, threads: 1, ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
    const got = [];
    for await (const t of ctx.getSequence().evaluate(exp.prompts[p], { temperature: 0, yieldEogToken: true })) {
        got.push(t);
        if (got.length >= want[p].length) break;
    }
    const k = got.findIndex((t, i) => t !== want[p][i]);
    if (k < 0) equal++;
    else if (!first) first = { prompt: p, token: k, got: got[k], want: want[p][k] };
    await ctx.dispose();
}
process.stdout.write(JSON.stringify({ model: name, case: caseName, equal, prompts: exp.prompts.length, first_difference: first }) + "\n");
await model.dispose();
await llama.dispose();
