"""symlora.client — a client for symlorad's HTTP API (Python 3 standard library only).

    from symlora import Client, APIError
    c = Client("http://127.0.0.1:8080", key="...")      # or $SYMLORA_URL / $SYMLORA_API_KEY
    c.completions("Hello", max_tokens=8)["choices"][0]["text"]
    for chunk in c.chat("Hi!", stream=True):            # server-sent events, one dict each
        print(chunk_text(chunk), end="", flush=True)
    c.push_adapter("my-adapter", "path/to/peft-dir")    # adapter_config.json + adapter_model.safetensors
    c.adapters(); c.adapter("my-adapter"); c.delete_adapter("my-adapter")

Every call opens its own connection. Failures raise:
  APIError          the server answered with an error ({"error": {"message", "type", "code", "param"}});
                    .status, .message, .type, .code, .param
  ConnectionFailed  the server could not be reached, or the connection broke
  AdapterDirError   push_adapter: the directory lacks a file (nothing was sent)
all subclasses of symlora.Error.
"""
import http.client
import json
import os
import select
import socket
import stat
import time
import urllib.parse
import uuid

DEFAULT_URL = "http://127.0.0.1:8080"
USER_AGENT = "symlora-python/1"
ADAPTER_FILES = (("config", "adapter_config.json"), ("weights", "adapter_model.safetensors"))


class Error(Exception):
    """Every error of this module."""


class ConnectionFailed(Error):
    pass


class AdapterDirError(Error):
    pass


class APIError(Error):
    """An error answer of the server (or an error event in a stream: status None)."""

    def __init__(self, status, message, type=None, code=None, param=None, body=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.body = body

    def __str__(self):
        what = ["HTTP %d" % self.status] if self.status else []
        if self.code:
            what.append(str(self.code))
        return "%s (%s)" % (self.message, ", ".join(what)) if what else self.message


class Pushed(dict):
    """The server's answer to an upload (the adapter's JSON), plus .status: 201 when the name
    was new, 200 when it replaced an existing version (.new says the same)."""

    def __init__(self, obj, status):
        super().__init__(obj)
        self.status = status

    @property
    def new(self):
        return self.status == 201


def chunk_text(chunk):
    """The text a streamed chunk adds (completion or chat chunk; '' for a usage-only chunk)."""
    out = []
    for c in chunk.get("choices") or ():
        if "text" in c:
            out.append(c.get("text") or "")
        else:
            out.append((c.get("delta") or {}).get("content") or "")
    return "".join(out)


def chunk_reasoning(chunk):
    """The reasoning_content a streamed chat chunk adds ('' if none)."""
    return "".join((c.get("delta") or {}).get("reasoning_content") or "" for c in chunk.get("choices") or ())


def function_tool(name, parameters=None, description=None):
    """An OpenAI function tool for chat(tools=[...]); PARAMETERS: a JSON Schema of an object."""
    f = {"name": name}
    if description is not None:
        f["description"] = description
    if parameters is not None:
        f["parameters"] = parameters
    return {"type": "function", "function": f}


def json_schema_format(schema, name="output", strict=True):
    """response_format for completions()/chat(): the output must match the JSON Schema SCHEMA
    (structured outputs; the server refuses unsupported keywords with a 400)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}


def tool_calls(answer):
    """The tool calls of a chat answer: a response object, or the chunks of a stream (an iterable
    of chunk objects, merged by index: id, type and name from the first piece of a call, the
    arguments joined). Returns [{"id", "type", "function": {"name", "arguments"}}] ([] if none);
    json.loads(call["function"]["arguments"]) gives the arguments."""
    if isinstance(answer, dict):
        msg = ((answer.get("choices") or [{}])[0]).get("message") or {}
        return list(msg.get("tool_calls") or [])
    calls = {}
    for chunk in answer:
        for c in chunk.get("choices") or ():
            for tc in (c.get("delta") or {}).get("tool_calls") or ():
                cur = calls.setdefault(tc.get("index", len(calls)), {"id": None, "type": "function",
                                                                     "function": {"name": "", "arguments": ""}})
                cur["id"] = cur["id"] or tc.get("id")
                cur["type"] = tc.get("type") or cur["type"]
                fn = tc.get("function") or {}
                cur["function"]["name"] += fn.get("name") or ""
                cur["function"]["arguments"] += fn.get("arguments") or ""
    return [calls[i] for i in sorted(calls)]


def _error_from(status, reason, data, content_type):
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    if "json" in (content_type or ""):
        try:
            e = json.loads(text).get("error")
        except (ValueError, AttributeError):
            e = None
        if isinstance(e, dict):
            return APIError(status, str(e.get("message") or reason), e.get("type"), e.get("code"), e.get("param"), text)
    return APIError(status, text.strip()[:500] or reason or "HTTP error", None, None, None, text)


def sse_data(resp):
    """Yields the data field of each server-sent event read from the file-like RESP (bytes
    lines): 'data:' lines of one event are joined by newlines; comments and other fields are
    skipped. Lines may end in \\n, \\r\\n or \\r (the SSE grammar)."""
    data = []
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.rstrip(b"\r\n").decode("utf-8", "replace")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
    if data:
        yield "\n".join(data)


class Client:
    """A symlorad at URL (default $SYMLORA_URL, else http://127.0.0.1:8080), with the API key
    KEY (default $SYMLORA_API_KEY; none: no Authorization header)."""

    def __init__(self, url=None, key=None, timeout=600.0):
        if url is None:
            url = os.environ.get("SYMLORA_URL") or DEFAULT_URL
        if key is None:
            key = os.environ.get("SYMLORA_API_KEY") or None
        u = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("invalid server URL %r: expected http://HOST[:PORT][/PATH]" % url)
        try:
            self.port = u.port or (443 if u.scheme == "https" else 80)
        except ValueError:
            raise ValueError("invalid server URL %r: bad port" % url) from None
        self.url = url
        self.scheme = u.scheme
        self.host = u.hostname
        self.base = u.path.rstrip("/")
        self.key = key
        self.timeout = timeout

    # ------------------------------------------------------------------ transport
    def _conn(self):
        if self.scheme == "https":
            import ssl  # only when needed: it is the slowest import of a short CLI run
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _headers(self, extra=None):
        h = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.key:
            h["Authorization"] = "Bearer " + self.key
        h.update(extra or {})
        return h

    def _fail(self, e):
        why = (e.strerror if isinstance(e, OSError) and e.strerror else str(e)) or type(e).__name__
        return ConnectionFailed("cannot reach %s: %s" % (self.url, why))

    def _open(self, method, path, body=None, headers=None):
        """Sends a request; returns (connection, response) with the status checked (>= 400
        raises APIError). The caller reads the response and closes the connection."""
        conn = self._conn()
        try:
            try:
                conn.request(method, self.base + path, body=body, headers=self._headers(headers))
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                raise self._fail(e) from None
            if resp.status >= 400:
                try:
                    data = resp.read()
                except (OSError, http.client.HTTPException):
                    data = b""
                raise _error_from(resp.status, resp.reason, data, resp.getheader("Content-Type"))
            return conn, resp
        except BaseException:
            conn.close()
            raise

    def _call(self, method, path, obj=None, raw=False):
        """One request with an optional JSON body; returns the parsed JSON answer (or its text
        when RAW or not JSON)."""
        body = headers = None
        if obj is not None:
            body = json.dumps(obj).encode()
            headers = {"Content-Type": "application/json"}
        conn, resp = self._open(method, path, body, headers)
        try:
            try:
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                raise self._fail(e) from None
        finally:
            conn.close()
        text = data.decode("utf-8", "replace")
        if raw or "json" not in (resp.getheader("Content-Type") or ""):
            return text
        try:
            return json.loads(text)
        except ValueError:
            raise Error("the server's answer is not JSON: %.200s" % text) from None

    def _stream(self, path, obj):
        """POSTs OBJ with stream=true and yields each event's JSON object until [DONE]."""
        obj = dict(obj, stream=True)
        conn, resp = self._open("POST", path, json.dumps(obj).encode(),
                                {"Content-Type": "application/json", "Accept": "text/event-stream"})
        try:
            try:
                for data in sse_data(resp):
                    if data == "[DONE]":
                        return
                    try:
                        ev = json.loads(data)
                    except ValueError:
                        raise Error("the server sent an event that is not JSON: %.200s" % data) from None
                    if isinstance(ev, dict) and isinstance(ev.get("error"), dict):
                        e = ev["error"]
                        raise APIError(None, str(e.get("message") or "error"), e.get("type"), e.get("code"),
                                       e.get("param"), data)
                    yield ev
            except (OSError, http.client.HTTPException) as e:
                raise self._fail(e) from None
            raise ConnectionFailed("the stream from %s ended before [DONE]" % self.url)
        finally:
            conn.close()

    @staticmethod
    def _params(body, params):
        for k, v in params.items():
            if v is not None:
                body[k] = v
        return body

    @staticmethod
    def _quote(name):
        return urllib.parse.quote(name, safe="")

    # ------------------------------------------------------------------ inference
    def completions(self, prompt, model=None, stream=False, **params):
        """POST /v1/completions. PROMPT: text or a list of token ids. PARAMS: max_tokens,
        temperature, top_p, top_k, seed, stop, logprobs, ... (None values are left out);
        structured outputs: response_format (json_schema_format(schema) or {"type": "json_object"}),
        structured_outputs {json|regex|choice|grammar}, guided_json/_regex/_choice/_grammar,
        grammar, json_schema (one of them).
        Returns the response object, or with STREAM a generator of chunk objects."""
        body = self._params({"prompt": prompt}, dict(params, model=model))
        if stream:
            return self._stream("/v1/completions", body)
        return self._call("POST", "/v1/completions", body)

    def chat(self, messages, model=None, stream=False, tools=None, tool_choice=None, **params):
        """POST /v1/chat/completions. MESSAGES: a list of {role, content} (assistant tool_calls
        and tool results too), or one string (a single user message). TOOLS: function tools
        (function_tool()); TOOL_CHOICE: "none", "auto", "required" or a function name. Returns
        the response, or with STREAM a generator of chunks (tool_calls() reads the calls)."""
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        if isinstance(tool_choice, str) and tool_choice not in ("none", "auto", "required"):
            tool_choice = {"type": "function", "function": {"name": tool_choice}}
        body = self._params({"messages": list(messages)},
                            dict(params, model=model, tools=list(tools) if tools else None, tool_choice=tool_choice))
        if stream:
            return self._stream("/v1/chat/completions", body)
        return self._call("POST", "/v1/chat/completions", body)

    def models(self):
        """GET /v1/models: the base model first, then the adapters the caller may use."""
        return self._call("GET", "/v1/models")["data"]

    def tokenize(self, prompt=None, messages=None, add_special_tokens=None, **params):
        """POST /tokenize: {"tokens", "count", "max_model_len"}."""
        body = {}
        self._params(body, dict(params, prompt=prompt, messages=messages, add_special_tokens=add_special_tokens))
        return self._call("POST", "/tokenize", body)

    def apply_template(self, messages, tools=None, add_generation_prompt=None, chat_template_kwargs=None, **params):
        """POST /apply-template: the prompt text the server's chat template makes of MESSAGES
        (a list of {role, content}, or one string: a single user message), without generating.
        CHAT_TEMPLATE_KWARGS: extra template variables, e.g. {"enable_thinking": False}."""
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        body = self._params({"messages": list(messages)},
                            dict(params, tools=list(tools) if tools else None, add_generation_prompt=add_generation_prompt,
                                 chat_template_kwargs=chat_template_kwargs))
        return self._call("POST", "/apply-template", body)["prompt"]

    def detokenize(self, tokens):
        """POST /detokenize: the text of TOKENS."""
        return self._call("POST", "/detokenize", {"tokens": list(tokens)})["prompt"]

    def health(self):
        return self._call("GET", "/health")

    def metrics(self):
        """GET /metrics: the Prometheus text."""
        return self._call("GET", "/metrics", raw=True)

    # ------------------------------------------------------------------ adapters
    def adapters(self, tenant=None):
        """GET /v1/adapters (an admin key may pass TENANT)."""
        q = "?tenant=" + urllib.parse.quote(tenant, safe="") if tenant else ""
        return self._call("GET", "/v1/adapters" + q)["data"]

    def adapter(self, name):
        """GET /v1/adapters/NAME: the adapter and its versions."""
        return self._call("GET", "/v1/adapters/" + self._quote(name))

    def delete_adapter(self, name):
        """DELETE /v1/adapters/NAME."""
        return self._call("DELETE", "/v1/adapters/" + self._quote(name))

    def load_lora_adapter(self, name, path, load_inplace=False):
        """vLLM's POST /v1/load_lora_adapter (PATH on the server, under its --import-dir)."""
        body = {"lora_name": name, "lora_path": path}
        if load_inplace:
            body["load_inplace"] = True
        return self._call("POST", "/v1/load_lora_adapter", body, raw=True)

    def unload_lora_adapter(self, name):
        return self._call("POST", "/v1/unload_lora_adapter", {"lora_name": name}, raw=True)

    def push_adapter(self, name, directory, progress=None, chunk_size=1 << 20):
        """PUT /v1/adapters/NAME with DIRECTORY's adapter_config.json and
        adapter_model.safetensors as multipart/form-data (parts 'config' and 'weights').

        The files are streamed from disk in CHUNK_SIZE pieces with a precomputed
        Content-Length, never read whole. 'Expect: 100-continue' lets the server refuse (e.g.
        413, too large; 401) before the body is sent. PROGRESS(sent, total) is called as the
        bytes go out. Returns a Pushed (the adapter's JSON; .status 201 new, 200 replaced)."""
        if not os.path.isdir(directory):
            raise AdapterDirError("%s: not a directory (a PEFT adapter directory holds %s)" %
                                  (directory, " and ".join(f for _, f in ADAPTER_FILES)))
        opened, files = [], []
        try:
            for part, fname in ADAPTER_FILES:
                path = os.path.join(directory, fname)
                try:
                    f = open(path, "rb")
                except OSError as e:
                    raise AdapterDirError("%s: %s" % (path, e.strerror or e)) from None
                opened.append(f)
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise AdapterDirError("%s: not a regular file" % path)
                files.append((part, fname, f, st.st_size))
            return self._put_multipart("/v1/adapters/" + self._quote(name), files, progress, chunk_size)
        finally:
            for f in opened:
                f.close()

    def _put_multipart(self, path, files, progress, chunk_size):
        boundary = "symlora-" + uuid.uuid4().hex
        pieces = []  # bytes, or (file, size)
        for part, fname, f, size in files:
            pieces.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                           "Content-Type: application/octet-stream\r\n\r\n" % (boundary, part, fname)).encode())
            pieces.append((f, size))
            pieces.append(b"\r\n")
        pieces.append(("--%s--\r\n" % boundary).encode())
        total = sum(len(p) if isinstance(p, bytes) else p[1] for p in pieces)
        conn = self._conn()
        try:
            expect = self.scheme == "http"  # the peek below needs a plain socket
            try:
                conn.putrequest("PUT", self.base + path, skip_accept_encoding=True)
                h = self._headers({"Content-Type": "multipart/form-data; boundary=" + boundary,
                                   "Content-Length": str(total)})
                if expect:
                    h["Expect"] = "100-continue"
                for k, v in h.items():
                    conn.putheader(k, v)
                conn.endheaders()
            except (OSError, http.client.HTTPException) as e:
                raise self._fail(e) from None
            answered = expect and _await_continue(conn.sock, min(1.0, self.timeout or 1.0))
            send_error = None
            if not answered:
                try:
                    self._send_pieces(conn, pieces, total, progress, chunk_size)
                except (BrokenPipeError, ConnectionResetError) as e:
                    send_error = e  # the server may have answered early (e.g. 413): read it below
            try:
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                raise self._fail(send_error or e) from None
            if resp.status >= 400:
                raise _error_from(resp.status, resp.reason, data, resp.getheader("Content-Type"))
            try:
                return Pushed(json.loads(data), resp.status)
            except ValueError:
                raise Error("the server's answer is not JSON: %.200s" % data) from None
        finally:
            conn.close()

    @staticmethod
    def _send_pieces(conn, pieces, total, progress, chunk_size):
        sent = 0
        last = 0.0
        if progress:
            progress(0, total)
        for p in pieces:
            if isinstance(p, bytes):
                conn.send(p)
                sent += len(p)
                continue
            f, size = p
            left = size
            while left:
                buf = f.read(min(chunk_size, left))
                if not buf:
                    raise Error("%s shrank while it was being uploaded" % getattr(f, "name", "a file"))
                conn.send(buf)
                left -= len(buf)
                sent += len(buf)
                now = time.monotonic()
                if progress and now - last >= 0.1:
                    last = now
                    progress(sent, total)
        if progress:
            progress(sent, total)


def _await_continue(sock, timeout):
    """After headers with 'Expect: 100-continue': waits up to TIMEOUT for the server's first
    answer. Returns False when the body should be sent (100 Continue, consumed here, or no
    answer in time); True when a final response is already there (left for getresponse)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                return False
            head = sock.recv(4096, socket.MSG_PEEK)
            if not head:
                return True  # closed: getresponse reports it
            if not b"HTTP/1.1 100".startswith(head[:12]) and not b"HTTP/1.0 100".startswith(head[:12]):
                return True
            if b"\r\n\r\n" in head:
                break
            time.sleep(0.005)  # the interim response is not complete yet
        n = head.index(b"\r\n\r\n") + 4
        while n:  # consume exactly the interim response
            got = sock.recv(n)
            if not got:
                return True
            n -= len(got)
        return False
    except (OSError, ValueError):
        return False
