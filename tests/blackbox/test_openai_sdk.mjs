// The official OpenAI SDK for Node against a real symlorad: completions and chat, streaming
// and not. Installs the SDK (tests/blackbox/package-lock.json) with `npm ci` when missing.
import { execSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const build = process.env.SL_BUILD || "build";
const sanitized = !!process.env.SL_SANITIZED;

if (!existsSync(join(here, "node_modules", "openai", "package.json"))) {
  const cmd = existsSync(join(here, "package-lock.json")) ? "npm ci" : "npm install";
  console.log(`installing the OpenAI SDK: ${cmd}`);
  execSync(`${cmd} --no-audit --no-fund`, { cwd: here, stdio: "inherit" });
}
const { default: OpenAI } = await import("openai");

// ------------------------------------------------------------------ the daemon
const tmp = mkdtempSync(join(tmpdir(), "symlorad-sdk-"));
const fx = join(root, "tests", "fixtures");
const adapters = ["lora-all-r8", "symlora-qo-r8"];
const args = ["--model", join(fx, "models", "llama-tiny"), "--store", join(tmp, "store"),
  "--listen", "127.0.0.1:0", "--chat-template",
  join(fx, "chat", "test", "llama3-compact.jinja"),
  ...adapters.flatMap((a) => ["--adapter", `${a}=${join(fx, "adapters", "llama-tiny", a)}`])];
const daemon = spawn(join(root, build, "symlorad"), args, { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
let log = "";
const exited = new Promise((res) => daemon.on("exit", (code, sig) => res({ code, sig })));
const port = await new Promise((res, rej) => {
  const t = setTimeout(() => rej(new Error("symlorad did not start:\n" + log)), (sanitized ? 120 : 30) * 1000);
  daemon.stderr.on("data", (b) => {
    log += b.toString();
    const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    if (m) { clearTimeout(t); res(Number(m[1])); }
  });
  daemon.on("exit", () => rej(new Error("symlorad exited:\n" + log)));
});

const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "not-needed", maxRetries: 0, timeout: 60000 });

// ------------------------------------------------------------------ the tests
let passed = 0, failed = 0;
function assert(cond, msg) { if (!cond) throw new Error(msg); }
async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(2)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n    ${String(e && e.stack || e).split("\n").slice(0, 6).join("\n    ")}`);
  }
}

await test("models_list", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m);
  assert(ids[0].id === "llama-tiny", JSON.stringify(ids));
  assert(ids.slice(1).map((m) => m.id).sort().join() === adapters.join(), JSON.stringify(ids));
  assert(ids.slice(1).every((m) => m.parent === "llama-tiny"), "adapters have the base as parent");
});

for (const model of ["llama-tiny", "symlora-qo-r8"]) {
  await test(`completions_${model}`, async () => {
    const req = { model, prompt: "The base model stays frozen", max_tokens: 16, temperature: 0, ignore_eos: true };
    const r = await client.completions.create(req);
    assert(r.object === "text_completion" && r.model === model, JSON.stringify(r));
    assert(typeof r.choices[0].text === "string" && r.choices[0].text.length > 0, "some text");
    assert(r.choices[0].finish_reason === "length" && r.usage.completion_tokens === 16, JSON.stringify(r));
    let text = "", last = null, n = 0;
    const stream = await client.completions.create({ ...req, stream: true });
    for await (const chunk of stream) { n++; text += chunk.choices[0]?.text ?? ""; last = chunk; }
    assert(n >= 1 && text === r.choices[0].text, `stream ${JSON.stringify(text)} != ${JSON.stringify(r.choices[0].text)}`);
    assert(last.choices[0].finish_reason === "length", JSON.stringify(last));
  });
}

await test("chat_completions", async () => {
  const req = { model: "lora-all-r8", temperature: 0, max_tokens: 12,
    messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "Say hello." }] };
  const r = await client.chat.completions.create(req);
  assert(r.object === "chat.completion", JSON.stringify(r));
  const msg = r.choices[0].message;
  assert(msg.role === "assistant" && typeof msg.content === "string", JSON.stringify(msg));
  assert(["stop", "length"].includes(r.choices[0].finish_reason), JSON.stringify(r));
  let text = "", role = null, usage = null, fin = null;
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.delta.role) role = c.delta.role;
    text += c.delta.content ?? "";
    if (c.finish_reason) fin = c.finish_reason;
  }
  assert(role === "assistant", "the first delta carries the role");
  assert(text === msg.content, `stream ${JSON.stringify(text)} != ${JSON.stringify(msg.content)}`);
  assert(fin === r.choices[0].finish_reason, `finish ${fin}`);
  assert(usage && usage.prompt_tokens === r.usage.prompt_tokens && usage.completion_tokens === r.usage.completion_tokens,
    JSON.stringify(usage));
});

// A forced call: the random-weight model writes noise unless decoding is constrained, so valid
// tool_calls prove that tool_choice reaches the constraint and the call parser reads its output.
const tools = [
  { type: "function", function: { name: "get_weather", description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string", enum: ["Paris", "Oslo", "Lima"] },
      unit: { type: "string", enum: ["C", "F"] } }, required: ["city", "unit"], additionalProperties: false } } },
  { type: "function", function: { name: "get_time", parameters: { type: "object",
    properties: { zone: { type: "string", enum: ["UTC", "CET"] } }, required: ["zone"], additionalProperties: false } } },
];
function checkCall(call, names) {
  assert(typeof call.id === "string" && /^call_[0-9A-Za-z]{24}$/.test(call.id), JSON.stringify(call));
  assert(call.type === "function" && names.includes(call.function.name), JSON.stringify(call));
  const args = JSON.parse(call.function.arguments);
  if (call.function.name === "get_weather") {
    assert(["Paris", "Oslo", "Lima"].includes(args.city) && ["C", "F"].includes(args.unit), call.function.arguments);
  } else {
    assert(["UTC", "CET"].includes(args.zone), call.function.arguments);
  }
}
for (const model of ["llama-tiny", "symlora-qo-r8"]) {
  for (const [choice, names, fin] of [["required", ["get_weather", "get_time"], "tool_calls"],
    [{ type: "function", function: { name: "get_time" } }, ["get_time"], "stop"]]) {
    const label = typeof choice === "string" ? choice : "named";
    await test(`tool_choice_${label}_${model}`, async () => {
      const req = { model, tools, tool_choice: choice, max_tokens: 200, temperature: 0.8, seed: 3,
        messages: [{ role: "user", content: "What is the weather in Paris?" }] };
      const r = await client.chat.completions.create(req);
      const msg = r.choices[0].message;
      assert(r.choices[0].finish_reason === fin, JSON.stringify(r));
      assert(msg.content === null && msg.tool_calls.length === 1, JSON.stringify(msg));
      checkCall(msg.tool_calls[0], names);
      // streaming: raw chunks, merged by index as the SDK documents
      const calls = [];
      let finish = null, content = "";
      for await (const chunk of await client.chat.completions.create({ ...req, stream: true })) {
        const c = chunk.choices[0];
        if (!c) continue;
        content += c.delta.content ?? "";
        for (const tc of c.delta.tool_calls ?? []) {
          const cur = calls[tc.index] ??= { id: tc.id, type: tc.type, function: { name: "", arguments: "" } };
          cur.function.name += tc.function?.name ?? "";
          cur.function.arguments += tc.function?.arguments ?? "";
        }
        if (c.finish_reason) finish = c.finish_reason;
      }
      assert(finish === fin && content === "" && calls.length === 1, JSON.stringify({ finish, content, calls }));
      checkCall(calls[0], names);
      assert(calls[0].function.name === msg.tool_calls[0].function.name &&
        calls[0].function.arguments === msg.tool_calls[0].function.arguments, "same seed: the stream says the same");
      // and the SDK's own stream helper accumulates the same call
      const helper = client.chat.completions.stream({ ...req, stream: true });
      const final = await helper.finalChatCompletion();
      checkCall(final.choices[0].message.tool_calls[0], names);
      assert(final.choices[0].message.tool_calls[0].function.arguments === msg.tool_calls[0].function.arguments,
        JSON.stringify(final.choices[0].message));
    });
  }
}

await test("seeded_sampling_reproducible", async () => {
  const req = { model: "symlora-qo-r8", prompt: "Each tenant", max_tokens: 20, temperature: 0.9, seed: 7, ignore_eos: true };
  const a = await client.completions.create(req);
  const b = await client.completions.create(req);
  assert(a.choices[0].text === b.choices[0].text, "same seed, same text");
});

await test("errors_are_sdk_errors", async () => {
  try {
    await client.completions.create({ model: "no-such-adapter", prompt: "x", max_tokens: 2 });
    throw new Error("no error");
  } catch (e) {
    assert(e instanceof OpenAI.NotFoundError && e.status === 404, String(e));
    assert(e.code === "model_not_found" && /no-such-adapter/.test(e.message), String(e));
  }
  try {
    await client.completions.create({ model: "llama-tiny", prompt: "x", max_tokens: -3 });
    throw new Error("no error");
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError && e.status === 400, String(e));
    assert(e.param === "max_tokens", String(e));
  }
});

await test("response_format_json_schema", async () => {
  // Structured outputs through the SDK: the random-weight model emits noise unless constrained.
  const schema = { type: "object", additionalProperties: false, required: ["city", "days"],
    properties: { city: { type: "string", enum: ["Paris", "Oslo", "Lima"] },
                  days: { type: "integer", minimum: 1, maximum: 14 } } };
  for (const model of ["llama-tiny", "symlora-qo-r8"]) {
    const r = await client.chat.completions.create({
      model, messages: [{ role: "user", content: "Plan a trip" }], max_tokens: 120, temperature: 0.7, seed: 3,
      response_format: { type: "json_schema", json_schema: { name: "trip", strict: true, schema } } });
    const c = r.choices[0];
    assert(c.finish_reason === "stop", `finish ${c.finish_reason}: ${c.message.content}`);
    const v = JSON.parse(c.message.content);
    assert(["Paris", "Oslo", "Lima"].includes(v.city) && Number.isInteger(v.days) && v.days >= 1 && v.days <= 14,
      `not valid: ${c.message.content}`);
    assert(Object.keys(v).sort().join() === "city,days", `keys: ${c.message.content}`);
  }
  const o = await client.chat.completions.create({ model: "llama-tiny", messages: [{ role: "user", content: "x" }],
    max_tokens: 30, temperature: 0, response_format: { type: "json_object" } });
  assert(o.choices[0].message.content.startsWith("{"), o.choices[0].message.content);
  try {
    await client.chat.completions.create({ model: "llama-tiny", messages: [{ role: "user", content: "x" }],
      response_format: { type: "json_schema", json_schema: { name: "bad", schema: { type: "string", not: {} } } } });
    throw new Error("an unsupported keyword must be refused");
  } catch (e) {
    assert(e instanceof OpenAI.BadRequestError && /'not'/.test(e.message), `got ${e}`);
  }
});

await test("sigterm_exits_0", async () => {
  daemon.kill("SIGTERM");
  const { code, sig } = await exited;
  assert(code === 0, `exit ${code} ${sig}\n${log.split("\n").slice(-5).join("\n")}`);
});

if (daemon.exitCode === null) daemon.kill("SIGKILL");
rmSync(tmp, { recursive: true, force: true });
console.log(`# ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
