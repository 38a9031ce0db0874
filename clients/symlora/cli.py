"""symlora.cli — the `symlora` command: adapters (push, ls, info, rm) and inference (complete,
chat, streamed to the terminal) against a symlorad. Standard library only."""
import argparse
import json
import os
import sys
import time

from .client import (DEFAULT_URL, AdapterDirError, APIError, Client, ConnectionFailed, Error, chunk_text, json_schema_format,
                     tool_calls)

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_CONNECT = 0, 1, 2, 3
PROGRESS_AUTO_BYTES = 4 << 20  # uploads at least this big show progress when stderr is a terminal

EPILOG = """\
environment:
  SYMLORA_URL       the server (default %s); --url wins
  SYMLORA_API_KEY   the API key (sent as 'Authorization: Bearer KEY'); --key wins

exit status:
  0 success, 1 the server answered with an error, 2 bad usage or a local problem
  (e.g. a missing adapter file), 3 the server could not be reached.

examples:
  symlora push my-adapter ./peft-output     upload adapter_config.json + adapter_model.safetensors
  symlora ls
  symlora complete --model my-adapter --max-tokens 32 "Once upon a time"
  symlora chat --model my-adapter "What is SymLoRA?"
  symlora rm my-adapter
""" % DEFAULT_URL


def _human(n):
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return "%d %s" % (n, unit) if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024.0
    return str(n)


def _when(t):
    if not isinstance(t, (int, float)):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _out(text):
    """Writes TEXT to stdout as UTF-8, whatever the locale, and flushes (streams show at once)."""
    sys.stdout.buffer.write(text.encode("utf-8", "replace"))
    sys.stdout.buffer.flush()


def _print_json(obj):
    _out(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


class Progress:
    """One progress line on stderr, rewritten in place ('\\r') on a terminal, every ~10% else."""

    def __init__(self, label, stream=None):
        self.label = label
        self.err = stream or sys.stderr
        self.tty = self.err.isatty()
        self.t0 = time.monotonic()
        self.last_pct = -1
        self.done = False

    def __call__(self, sent, total):
        pct = int(100 * sent / total) if total else 100
        if not self.tty and pct < 100 and pct < self.last_pct + 10:
            return
        if pct == self.last_pct and pct == 100:
            return
        self.last_pct = pct
        dt = max(time.monotonic() - self.t0, 1e-6)
        line = "%s: %s / %s (%d%%) %s/s" % (self.label, _human(sent), _human(total), pct, _human(sent / dt))
        if self.tty:
            self.err.write("\r\033[K" + line)
            if pct >= 100:
                self.err.write("\n")
        else:
            self.err.write(line + "\n")
        self.err.flush()


# ---------------------------------------------------------------------- commands
def cmd_push(c, a):
    if not os.path.isdir(a.dir):
        raise AdapterDirError("%s: not a directory" % a.dir)
    size = 0
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        try:
            size += os.path.getsize(os.path.join(a.dir, f))
        except OSError:
            pass  # push_adapter names the missing file
    show = a.progress if a.progress is not None else (sys.stderr.isatty() and size >= PROGRESS_AUTO_BYTES)
    r = c.push_adapter(a.name, a.dir, progress=Progress("uploading %s" % a.name) if show else None)
    if a.json:
        _print_json(dict(r))
        return
    _out("%s %s: version %s, %s r=%s, %s, sha256 %s\n" % (
        "created" if r.new else "replaced", r.get("name"), r.get("version"), r.get("peft_type"), r.get("r"),
        _human(r.get("bytes")), r.get("sha256")))


def cmd_ls(c, a):
    rows = c.adapters(tenant=a.tenant)
    if a.json:
        _print_json(rows)
        return
    tenants = {r.get("tenant") for r in rows if r.get("tenant")}
    show_tenant = len(tenants) > 1 or a.tenant
    head = (["TENANT"] if show_tenant else []) + ["NAME", "VERSION", "TYPE", "R", "SIZE", "RESIDENT", "SHA256"]
    table = [head]
    for r in rows:
        pinned = r.get("pinned")
        table.append(([r.get("tenant") or "-"] if show_tenant else []) + [
            str(r.get("name")), "pinned" if pinned else str(r.get("version")), str(r.get("peft_type")),
            str(r.get("r")), "-" if pinned else _human(r.get("bytes")), "yes" if r.get("resident") else "no",
            "-" if pinned else str(r.get("sha256", ""))[:12]])
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        _out("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")


def cmd_info(c, a):
    r = c.adapter(a.name)
    if a.json:
        _print_json(r)
        return
    pinned = r.get("pinned")
    lines = [("name", r.get("name")), ("tenant", r.get("tenant") or "- (preloaded for every tenant)"),
             ("pinned", "yes" if pinned else "no")]
    if not pinned:
        lines += [("version", r.get("version")), ("sha256", r.get("sha256")),
                  ("bytes", "%s (%s)" % (r.get("bytes"), _human(r.get("bytes")))), ("created", _when(r.get("created")))]
    lines += [("peft_type", r.get("peft_type")), ("r", r.get("r")),
              ("target_modules", ", ".join(r.get("target_modules") or []) or "-"),
              ("resident", "yes (%s in memory)" % _human(r.get("resident_bytes")) if r.get("resident") else "no")]
    for v in r.get("versions") or []:
        lines.append(("version %s" % v.get("version"), "%s, sha256 %s, %s%s" % (
            _human(v.get("bytes")), v.get("sha256"), _when(v.get("created")), " (current)" if v.get("current") else "")))
    w = max(len(k) for k, _ in lines) + 1
    for k, v in lines:
        _out("%s %s\n" % ((k + ":").ljust(w), v))


def cmd_rm(c, a):
    r = c.delete_adapter(a.name)
    if a.json:
        _print_json(r)
        return
    _out("deleted %s (version %s)\n" % (r.get("name"), r.get("version")))


def _gen_params(a):
    p = {"max_tokens": a.max_tokens, "temperature": a.temperature, "top_p": a.top_p, "top_k": a.top_k,
         "seed": a.seed}
    if a.stop:
        p["stop"] = a.stop
    # Structured outputs: at most one (the server refuses two with a 400, naming them).
    if a.json_schema:
        try:
            with open(a.json_schema, encoding="utf-8") as f:
                p["response_format"] = json_schema_format(json.load(f))
        except (OSError, ValueError) as e:
            raise UsageError("--json-schema %s: %s" % (a.json_schema, e))
    if a.json_object:
        p["response_format"] = {"type": "json_object"}
    if a.regex is not None:
        p["guided_regex"] = a.regex
    if a.choice:
        p["guided_choice"] = a.choice
    if a.grammar:
        try:
            with open(a.grammar, encoding="utf-8") as f:
                p["grammar"] = f.read()
        except OSError as e:
            raise UsageError("--grammar %s: %s" % (a.grammar, e))
    return p


class UsageError(Exception):
    """A bad local argument (exit status 2)."""


def _print_calls(calls):
    for c in calls:
        _out("tool call: %s %s\n" % (c["function"]["name"], c["function"]["arguments"]))


def _run_generation(a, start, final_text):
    """Streams (default) or not; prints the text and a final newline, then one line per tool
    call ("tool call: NAME ARGUMENTS")."""
    if a.no_stream:
        r = start(False)
        if a.json:
            _print_json(r)
            return
        _out((final_text(r) or "") + "\n")
        _print_calls(tool_calls(r))
        return
    finish = None
    wrote = False
    chunks = []
    try:
        for chunk in start(True):
            if a.json:
                _out(json.dumps(chunk, ensure_ascii=False) + "\n")
                continue
            chunks.append(chunk)
            text = chunk_text(chunk)
            if text:
                _out(text)
                wrote = True
            for ch in chunk.get("choices") or ():
                finish = ch.get("finish_reason") or finish
    except Error:
        if wrote:
            _out("\n")  # end the partial line before the error message
        raise
    if not a.json:
        _out("\n")
        _print_calls(tool_calls(chunks))
        if finish == "abort":
            raise Error("the generation was cancelled by the server")


def _read_arg(text):
    return sys.stdin.read() if text == "-" else text


def cmd_complete(c, a):
    prompt = _read_arg(a.prompt)
    _run_generation(a, lambda stream: c.completions(prompt, model=a.model, stream=stream, **_gen_params(a)),
                    lambda r: r["choices"][0]["text"])


def cmd_chat(c, a):
    msgs = []
    if a.system:
        msgs.append({"role": "system", "content": a.system})
    msgs.append({"role": "user", "content": _read_arg(a.message)})
    tools = None
    if a.tools:
        try:
            with open(a.tools, encoding="utf-8") as f:
                tools = json.load(f)
        except (OSError, ValueError) as e:
            raise UsageError("--tools %s: %s" % (a.tools, e))
        if isinstance(tools, dict):
            tools = [tools]
    _run_generation(a, lambda stream: c.chat(msgs, model=a.model, stream=stream, tools=tools,
                                             tool_choice=a.tool_choice, **_gen_params(a)),
                    lambda r: r["choices"][0]["message"]["content"])


def cmd_models(c, a):
    rows = c.models()
    if a.json:
        _print_json(rows)
        return
    for m in rows:
        _out("%s%s\n" % (m.get("id"), "" if m.get("parent") is None else "  (adapter of %s)" % m.get("parent")))


def cmd_tokenize(c, a):
    r = c.tokenize(_read_arg(a.text), add_special_tokens=False if a.no_special else None)
    if a.json:
        _print_json(r)
        return
    _out(" ".join(str(t) for t in r["tokens"]) + "\n")


def cmd_template(c, a):
    msgs = [{"role": "system", "content": a.system}] if a.system else []
    msgs.append({"role": "user", "content": _read_arg(a.message)})
    _out(c.apply_template(msgs, add_generation_prompt=False if a.no_generation_prompt else None))


def cmd_detokenize(c, a):
    _out(c.detokenize(a.tokens) + "\n")


def cmd_health(c, a):
    r = c.health()
    _out((json.dumps(r) if a.json else str(r.get("status", r))) + "\n")


# ---------------------------------------------------------------------- arguments
def _common(p, top):
    """--url/--key/--timeout are accepted before or after the command; only the top level
    sets defaults (a subcommand's SUPPRESS keeps it from overwriting them)."""
    d = (lambda v: v) if top else (lambda v: argparse.SUPPRESS)
    p.add_argument("--url", default=d(None), help="server URL (env SYMLORA_URL; default %s)" % DEFAULT_URL)
    p.add_argument("--key", default=d(None), help="API key (env SYMLORA_API_KEY)")
    p.add_argument("--timeout", type=float, default=d(600.0), help="seconds to wait for the server (default 600)")


def build_parser():
    p = argparse.ArgumentParser(prog="symlora", description="Client of symlorad: upload and manage SymLoRA / LoRA "
                                "adapters, run completions and chats.", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p, True)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, fn, help, aliases=(), json_flag=True):
        s = sub.add_parser(name, help=help, description=help, aliases=list(aliases))
        _common(s, False)
        if json_flag:
            s.add_argument("--json", action="store_true", help="print the server's JSON")
        s.set_defaults(fn=fn)
        return s

    s = add("push", cmd_push, "upload an adapter directory (adapter_config.json + adapter_model.safetensors) as NAME; "
            "a new version if NAME exists")
    s.add_argument("name", metavar="NAME")
    s.add_argument("dir", metavar="DIR")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="always show a progress line on stderr (default: for big uploads to a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="never show one")
    s = add("ls", cmd_ls, "list your adapters (and the preloaded ones)", aliases=("list",))
    s.add_argument("--tenant", help="admin keys: only this tenant's")
    s = add("info", cmd_info, "show an adapter: version, sha256, size, type, rank, modules")
    s.add_argument("name", metavar="NAME")
    s = add("rm", cmd_rm, "delete an adapter", aliases=("delete",))
    s.add_argument("name", metavar="NAME")
    for name, fn, what, arg in (("complete", cmd_complete, "complete a prompt (streamed)", "prompt"),
                                ("chat", cmd_chat, "send one chat message and stream the answer", "message")):
        s = add(name, fn, what)
        s.add_argument("--model", "-m", help="an adapter name, or the base model (default)")
        s.add_argument("--max-tokens", "-n", type=int, help="most tokens to generate")
        s.add_argument("--temperature", "-t", type=float, help="0 is greedy (server default 1)")
        s.add_argument("--top-p", type=float)
        s.add_argument("--top-k", type=int)
        s.add_argument("--seed", type=int)
        s.add_argument("--stop", action="append", help="a stop sequence (repeatable)")
        s.add_argument("--no-stream", action="store_true", help="wait for the whole answer instead of streaming")
        s.add_argument("--json-schema", metavar="FILE", help="structured output: the answer matches this JSON Schema")
        s.add_argument("--json-object", action="store_true", help="structured output: the answer is a JSON object")
        s.add_argument("--regex", metavar="RE", help="structured output: the answer matches this regex in full")
        s.add_argument("--choice", action="append", metavar="TEXT", help="structured output: one of these (repeatable)")
        s.add_argument("--grammar", metavar="FILE", help="structured output: a GBNF grammar (root rule 'root')")
        if name == "chat":
            s.add_argument("--system", help="a system message before MESSAGE")
            s.add_argument("--tools", metavar="FILE", help="a JSON file of OpenAI function tools (an array, or one tool); "
                           "the calls print after the text as 'tool call: NAME ARGUMENTS'")
            s.add_argument("--tool-choice", metavar="CHOICE", help="none, auto, required, or a function name")
        s.add_argument(arg, metavar=arg.upper(), help="the text ('-': read standard input)")
    add("models", cmd_models, "list the models: the base model and the adapters you may use")
    s = add("tokenize", cmd_tokenize, "print the token ids of TEXT")
    s.add_argument("--no-special", action="store_true", help="without special tokens (BOS)")
    s.add_argument("text", metavar="TEXT", help="the text ('-': read standard input)")
    s = add("template", cmd_template, "print the prompt the chat template makes of MESSAGE", json_flag=False)
    s.add_argument("--system", help="a system message before MESSAGE")
    s.add_argument("--no-generation-prompt", action="store_true", help="without the assistant header at the end")
    s.add_argument("message", metavar="MESSAGE", help="the text ('-': read standard input)")
    s = add("detokenize", cmd_detokenize, "print the text of token ids", json_flag=False)
    s.add_argument("tokens", metavar="ID", type=int, nargs="+")
    add("health", cmd_health, "check that the server is up")
    return p


def main(argv=None):
    p = build_parser()
    a = p.parse_args(argv)
    if not getattr(a, "fn", None):
        p.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        c = Client(a.url, a.key, timeout=a.timeout)
    except ValueError as e:
        p.error(str(e))  # exits 2
    try:
        a.fn(c, a)
        return EXIT_OK
    except APIError as e:
        msg = "symlora: error: %s" % e
        if e.status == 401:
            msg += "\n  (give the API key with --key or SYMLORA_API_KEY)"
        print(msg, file=sys.stderr)
        return EXIT_API
    except ConnectionFailed as e:
        print("symlora: %s\n  (is symlorad running there? set --url or SYMLORA_URL)" % e, file=sys.stderr)
        return EXIT_CONNECT
    except (AdapterDirError, UsageError) as e:
        print("symlora: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    except Error as e:
        print("symlora: error: %s" % e, file=sys.stderr)
        return EXIT_API
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `symlora complete ... | head -c 10`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the flush at exit must not fail again
        return EXIT_OK
