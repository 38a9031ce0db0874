/* tools.h — OpenAI function tools on /v1/chat/completions: the request's `tools`,
 * `tool_choice` and `parallel_tool_calls` checked (with the tool calls and tool results inside
 * `messages`), and the parsed output (lib/toolcall) as OpenAI JSON: message.tool_calls,
 * delta.tool_calls, reasoning_content. No connection is touched here. */
#ifndef SL_API_TOOLS_H
#define SL_API_TOOLS_H

#include <jansson.h>

#include "toolcall.h"

struct sl__err;
struct sl_tokenizer;

#define SL__MAX_TOOLS 128

typedef enum sl__tool_choice {
    SL__TOOL_CHOICE_NONE = 0, /* no tools, or "none": the output is not parsed for calls */
    SL__TOOL_CHOICE_AUTO,
    SL__TOOL_CHOICE_REQUIRED,
    SL__TOOL_CHOICE_NAMED     /* tools[named] must be called */
} sl__tool_choice;

typedef struct sl__tools {
    json_t *tools;            /* borrowed from the body: the checked `tools` array, or NULL */
    int n_tools;
    sl__tool_choice choice;
    int named;                /* SL__TOOL_CHOICE_NAMED: index into tools */
    int parallel;             /* parallel_tool_calls (default 1): 0 keeps only the first call */
} sl__tools;

/* Checks BODY's tools, tool_choice, parallel_tool_calls and the tool parts of its messages
 * (assistant tool_calls, tool results): 0 (T filled, borrowing from BODY) or -1 with E (400
 * naming the field). Forced calls (required, a named function) need constrained decoding:
 * CAN_FORCE 0 refuses them with 400. */
int sl__tools_parse(json_t *body, int can_force, sl__tools *t, struct sl__err *e);

struct sl_constraint;
struct sl_constraint_cache;

/* A forced call (tool_choice required or named) as a constraint for the engine: *OUT gets a new
 * reference (from CC) to a constraint on exactly one call in format FMT, by the tools' parameter
 * schemas (sl__tools_forced_schema). 0 with *OUT NULL when the choice forces nothing; -1 with E:
 * 400 when the output is constrained already (*OUT not NULL: response_format etc.), when the
 * model has no tool-call format, or when a parameters schema uses what the constraint engine
 * does not support (its message). */
int sl__tools_constrain(const sl__tools *t, sl_toolcall_format fmt, struct sl_constraint_cache *cc,
                        struct sl_constraint **out, struct sl__err *e);

/* A forced call (tool_choice required: any of the tools; named: that one) in format FMT, as the
 * text the model must write: *PREFIX, then JSON valid by the returned schema (new reference),
 * then *SUFFIX (static strings, maybe ""). The schema's call objects are {"name": const,
 * ARGS: the tool's parameters} with ARGS "arguments" (hermes, mistral) or "parameters"
 * (llama3_json); mistral's is an array of one call. NULL for SL_TOOLCALL_NONE or no forced
 * choice. */
json_t *sl__tools_forced_schema(const sl__tools *t, sl_toolcall_format fmt, const char **prefix, const char **suffix);

/* 1 when the prompt's last tokens opened a <think> block (the generation prompt did). */
int sl__prompt_opens_think(const struct sl_tokenizer *tok, const int32_t *ids, size_t n);

/* OpenAI's tool_calls entry {id, type, function: {name, arguments}} (INDEX added when >= 0, as in
 * a stream delta; ID: "call_..." unique). New reference. */
json_t *sl__tool_call_json(const sl_toolcall *c, const char *id, int index);

#endif
