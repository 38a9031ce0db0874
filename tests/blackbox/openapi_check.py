"""openapi_check.py — checks real HTTP answers against api/openapi.yaml (standard library only).

    spec = load_spec()                                   # api/openapi.yaml (YAML in its JSON subset)
    errors = check_response(spec, "POST", "/v1/completions", status, headers, body)
    errors = validate(spec, instance, {"$ref": "#/components/schemas/Completion"})

validate() is a small JSON Schema (2020-12 subset, as OpenAPI 3.1 uses it) validator: type
(a name or a list of names, "null" among them for nullable), properties, required,
additionalProperties (boolean or schema), items, minItems, maxItems, enum, const, oneOf
(exactly one), anyOf, allOf, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength,
maxLength, pattern, and $ref to anywhere in the document ("#/components/schemas/X"). A keyword it
does not know is reported as an error rather than ignored, so the spec cannot use one that would
silently check nothing. Annotations (description, example, ...) are skipped.

check_response() finds the operation of METHOD and PATH (path templates like
/v1/adapters/{name}), the documented STATUS (a missing one is an error), the media type of the
Content-Type, and validates the body: JSON against the schema, a text/event-stream as its
`data:` events, each against the media type's x-sse-data schema, the last being [DONE]. Headers
marked required in the response are checked too. Every function returns a list of messages
(empty: valid).
"""
import json
import math
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC_PATH = os.path.join(ROOT, "api", "openapi.yaml")

ANNOTATIONS = {"description", "title", "example", "examples", "default", "deprecated", "readOnly", "writeOnly",
               "format", "contentMediaType", "contentEncoding", "$comment", "discriminator", "externalDocs", "xml"}
KEYWORDS = {"$ref", "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum",
            "const", "oneOf", "anyOf", "allOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
            "minLength", "maxLength", "pattern"}


def load_spec(path=SPEC_PATH):
    """The spec as a dict. It is YAML written in the JSON-compatible subset (no YAML parser in
    Python's standard library), so json reads it; anything else is a clear error."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError as e:
        raise ValueError("%s must be YAML in its JSON-compatible subset (so json.loads reads it): %s" % (path, e))


def resolve(spec, ref):
    """The object at a local reference '#/a/b/c' (JSON pointer, ~0 ~1 escapes)."""
    if not ref.startswith("#/"):
        raise KeyError("only local references are supported: %r" % ref)
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError("unresolvable reference %r (no %r)" % (ref, part))
    return node


def _type_ok(value, t):
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    raise ValueError("unknown type %r in the schema" % t)


def _same(a, b):
    """JSON equality: true is not 1, 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _short(v):
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 60 else s[:57] + "..."


def reference_errors(spec, value, schema):
    """VALUE against SCHEMA with the jsonschema package (Draft 2020-12) when the machine has it,
    as a cross-check of validate(): a list of errors, or None without jsonschema."""
    try:
        import jsonschema
    except ImportError:
        return None
    root = dict(spec)  # the document is the root, so "#/components/..." resolves
    root.update(schema if isinstance(schema, dict) else {})
    v = jsonschema.Draft202012Validator(root)
    return ["jsonschema: %s at %s" % (e.message[:200], "/".join(str(x) for x in e.absolute_path) or "$")
            for e in v.iter_errors(value)]


def validate_both(spec, value, schema, where="$"):
    """validate(), plus the jsonschema package's verdict when it is installed."""
    errs = validate(spec, value, schema, where)
    ref = reference_errors(spec, value, schema)
    if ref and not errs:
        errs = ["%s: passed this validator but not jsonschema: %s" % (where, "; ".join(ref[:3]))]
    return errs


def validate(spec, value, schema, where="$", depth=0):
    """Errors of VALUE against SCHEMA (a list of 'where: what' strings; empty when valid)."""
    if depth > 64:
        return ["%s: schema nesting too deep (a $ref cycle?)" % where]
    if schema is True or schema == {}:
        return []
    if schema is False:
        return ["%s: no value is allowed here" % where]
    if not isinstance(schema, dict):
        return ["%s: the schema is not an object: %r" % (where, schema)]
    errs = []
    for k in schema:
        if k not in KEYWORDS and k not in ANNOTATIONS and not k.startswith("x-"):
            errs.append("%s: the schema uses %r, which this validator does not implement" % (where, k))
    if errs:
        return errs
    if "$ref" in schema:
        try:
            target = resolve(spec, schema["$ref"])
        except (KeyError, ValueError, IndexError) as e:
            return ["%s: %s" % (where, e)]
        errs += validate(spec, value, target, where, depth + 1)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, t) for t in types):
            return errs + ["%s: %s is not of type %s" % (where, _short(value), " or ".join(types))]
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        errs.append("%s: %s is not one of %s" % (where, _short(value), _short(schema["enum"])))
    if "const" in schema and not _same(value, schema["const"]):
        errs.append("%s: %s is not %s" % (where, _short(value), _short(schema["const"])))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append("%s: %s is less than the minimum %s" % (where, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            errs.append("%s: %s is more than the maximum %s" % (where, value, schema["maximum"]))
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errs.append("%s: %s is not more than %s" % (where, value, schema["exclusiveMinimum"]))
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            errs.append("%s: %s is not less than %s" % (where, value, schema["exclusiveMaximum"]))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append("%s: %s is shorter than %d" % (where, _short(value), schema["minLength"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append("%s: %s is longer than %d" % (where, _short(value), schema["maxLength"]))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append("%s: %s does not match %s" % (where, _short(value), schema["pattern"]))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append("%s: %d items, fewer than %d" % (where, len(value), schema["minItems"]))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append("%s: %d items, more than %d" % (where, len(value), schema["maxItems"]))
        if "items" in schema:
            for i, v in enumerate(value):
                errs += validate(spec, v, schema["items"], "%s[%d]" % (where, i), depth + 1)
    if isinstance(value, dict):
        for r in schema.get("required", ()):
            if r not in value:
                errs.append("%s: the required property %r is missing" % (where, r))
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                errs += validate(spec, v, props[k], "%s.%s" % (where, k), depth + 1)
            elif "additionalProperties" in schema:
                ap = schema["additionalProperties"]
                if ap is False:
                    errs.append("%s: the property %r is not in the schema" % (where, k))
                elif ap is not True:
                    errs += validate(spec, v, ap, "%s.%s" % (where, k), depth + 1)
    for k in ("allOf", "anyOf", "oneOf"):
        if k not in schema:
            continue
        results = [validate(spec, value, s, where, depth + 1) for s in schema[k]]
        passed = sum(1 for r in results if not r)
        if k == "allOf":
            for r in results:
                errs += r
        elif k == "anyOf" and not passed:
            errs.append("%s: matches none of anyOf: %s" % (where, " | ".join("; ".join(r[:2]) for r in results)))
        elif k == "oneOf" and passed != 1:
            if passed == 0:
                errs.append("%s: matches none of oneOf: %s" % (where, " | ".join("; ".join(r[:2]) for r in results)))
            else:
                errs.append("%s: matches %d of oneOf, not exactly one" % (where, passed))
    return errs


# ---------------------------------------------------------------------- operations
def path_template(spec, path):
    """The key of spec['paths'] that PATH (without the query) matches, or None."""
    path = path.split("?", 1)[0]
    if path in spec["paths"]:
        return path
    for tpl in spec["paths"]:
        rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(tpl)) + "$"
        if re.match(rx, path):
            return tpl
    return None


def operation(spec, method, path):
    tpl = path_template(spec, path)
    if tpl is None:
        return None, None
    return tpl, spec["paths"][tpl].get(method.lower())


def response_spec(spec, method, path, status):
    """(response object, error) for STATUS of METHOD PATH."""
    tpl, op = operation(spec, method, path)
    if tpl is None:
        return None, "%s %s: no such path in the spec" % (method, path)
    if op is None:
        return None, "%s %s: the spec has no %s operation on %s" % (method, path, method, tpl)
    r = op.get("responses", {}).get(str(status))
    if r is None:
        return None, "%s %s: status %s is not documented (documented: %s)" % (
            method, tpl, status, ", ".join(sorted(op.get("responses", {}))))
    if "$ref" in r:
        r = resolve(spec, r["$ref"])
    return r, None


def media_type(resp_obj, content_type):
    """(media type name, media object) of the response for a Content-Type header."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    content = resp_obj.get("content", {})
    if base in content:
        return base, content[base]
    return base, None


def sse_events(body):
    """The data of each event of a text/event-stream body (bytes or str)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    events = []
    for block in re.split(r"\r\n\r\n|\n\n|\r\r", body):
        data = [l[5:].lstrip(" ") if l.startswith("data:") else None for l in re.split(r"\r\n|\n|\r", block)]
        data = [d for d in data if d is not None]
        if data:
            events.append("\n".join(data))
    return events


def check_response(spec, method, path, status, headers, body):
    """Errors of one real answer against the spec. HEADERS: a dict with lower-case names."""
    resp_obj, err = response_spec(spec, method, path, status)
    if err:
        return [err]
    where = "%s %s %s" % (method, path_template(spec, path), status)
    errs = []
    for name, h in (resp_obj.get("headers") or {}).items():
        if h.get("required") and name.lower() not in headers:
            errs.append("%s: the required header %s is missing" % (where, name))
        elif name.lower() in headers and "schema" in h:
            errs += ["%s: header %s: %s" % (where, name, e) for e in
                     validate(spec, headers[name.lower()], h["schema"])]
    content = resp_obj.get("content")
    if not content:
        if body:
            errs.append("%s: the spec documents no body, got %d bytes" % (where, len(body)))
        return errs
    ct, media = media_type(resp_obj, headers.get("content-type"))
    if media is None:
        return errs + ["%s: Content-Type %r is not documented (documented: %s)" % (where, ct, ", ".join(content))]
    if ct == "text/event-stream":
        schema = media.get("x-sse-data")
        if schema is None:
            return errs + ["%s: the text/event-stream media type has no x-sse-data schema" % where]
        events = sse_events(body)
        if not events or events[-1] != "[DONE]":
            errs.append("%s: the stream does not end with data: [DONE]" % where)
        for i, ev in enumerate(events):
            if ev == "[DONE]":
                if i != len(events) - 1:
                    errs.append("%s: [DONE] is not the last event" % where)
                continue
            try:
                obj = json.loads(ev)
            except ValueError:
                errs.append("%s: event %d is not JSON: %.80s" % (where, i, ev))
                continue
            errs += validate_both(spec, obj, schema, "%s event[%d]" % (where, i))
        return errs
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    if ct.endswith("json"):
        try:
            obj = json.loads(text)
        except ValueError:
            return errs + ["%s: the body is not JSON: %.80s" % (where, text)]
        return errs + validate_both(spec, obj, media.get("schema", True), where)
    return errs + validate_both(spec, text, media.get("schema", True), where)


def request_errors(spec, method, path, obj, content_type="application/json"):
    """Errors of a request body OBJ against the operation's requestBody schema."""
    tpl, op = operation(spec, method, path)
    if op is None:
        return ["%s %s: not in the spec" % (method, path)]
    rb = op.get("requestBody")
    if rb is None:
        return ["%s %s: the spec documents no request body" % (method, tpl)]
    media = rb.get("content", {}).get(content_type)
    if media is None:
        return ["%s %s: request media type %s is not documented" % (method, tpl, content_type)]
    return validate_both(spec, obj, media.get("schema", True), "%s %s request" % (method, tpl))


def all_refs(node, out=None):
    """Every $ref value in the document."""
    out = [] if out is None else out
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.append(v)
            else:
                all_refs(v, out)
    elif isinstance(node, list):
        for v in node:
            all_refs(v, out)
    return out


def c_routes(path=os.path.join(ROOT, "api", "routes.c")):
    """(method, path, prefix) of every row of the route table sl__routes[] in api/routes.c."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"sl__routes\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    if not m:
        raise ValueError("no sl__routes[] table in %s" % path)
    rows = []
    for row in re.findall(r"\{([^{}]*\.method\s*=[^{}]*)\}", m.group(1)):
        meth = re.search(r"\.method\s*=\s*\"([A-Z]+)\"", row)
        p = re.search(r"\.path\s*=\s*\"([^\"]+)\"", row)
        prefix = re.search(r"\.prefix\s*=\s*1", row) is not None
        if not meth or not p:
            raise ValueError("cannot read the route row %r" % row)
        rows.append((meth.group(1), p.group(1), prefix))
    return rows


def lint_schema(schema, where="$"):
    """Static check of a schema tree: every keyword is one validate() implements (or an
    annotation), wherever it sits, even in branches no test instance reaches."""
    errs = []
    if isinstance(schema, bool):
        return errs
    if not isinstance(schema, dict):
        return ["%s: a schema must be an object or a boolean" % where]
    for k, v in schema.items():
        if k not in KEYWORDS and k not in ANNOTATIONS and not k.startswith("x-"):
            errs.append("%s: unsupported keyword %r" % (where, k))
        elif k == "properties":
            for name, s in v.items():
                errs += lint_schema(s, "%s.properties.%s" % (where, name))
        elif k in ("items", "additionalProperties") and isinstance(v, (dict, bool)):
            errs += lint_schema(v, "%s.%s" % (where, k))
        elif k in ("oneOf", "anyOf", "allOf"):
            for i, s in enumerate(v):
                errs += lint_schema(s, "%s.%s[%d]" % (where, k, i))
        elif k == "type":
            for t in v if isinstance(v, list) else [v]:
                if t not in ("null", "boolean", "integer", "number", "string", "array", "object"):
                    errs.append("%s: unknown type %r" % (where, t))
        elif k == "pattern":
            try:
                re.compile(v)
            except re.error as e:
                errs.append("%s: bad pattern %r: %s" % (where, v, e))
    return errs


def schemas_in(spec):
    """(where, schema) of every schema the document holds: components, bodies, parameters, headers."""
    out = [("#/components/schemas/" + n, s) for n, s in spec.get("components", {}).get("schemas", {}).items()]

    def media(where, content):
        for ct, m in (content or {}).items():
            for k in ("schema", "x-sse-data"):
                if k in m:
                    out.append(("%s %s %s" % (where, ct, k), m[k]))

    def response(where, r):
        media(where, r.get("content"))
        for h, ho in (r.get("headers") or {}).items():
            if "schema" in ho:
                out.append(("%s header %s" % (where, h), ho["schema"]))

    for n, r in spec.get("components", {}).get("responses", {}).items():
        response("#/components/responses/" + n, r)
    for p, item in spec.get("paths", {}).items():
        for prm in item.get("parameters", []):
            out.append(("%s parameter %s" % (p, prm.get("name")), prm.get("schema", True)))
        for m, op in item.items():
            if m == "parameters":
                continue
            for prm in op.get("parameters", []):
                out.append(("%s %s parameter %s" % (m, p, prm.get("name")), prm.get("schema", True)))
            media("%s %s request" % (m, p), (op.get("requestBody") or {}).get("content"))
            for st, r in op.get("responses", {}).items():
                if "$ref" not in r:
                    response("%s %s %s" % (m, p, st), r)
    return out
