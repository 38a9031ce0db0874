/* toolcall.h — a model's generated text split into content, reasoning and tool calls, as
 * vLLM's tool-call and reasoning parsers do, one-shot or incrementally while tokens stream.
 * Pure functions over text: nothing here knows HTTP; api/ turns the pieces into OpenAI JSON.
 *
 * Formats (chosen from the chat template's source by sl_toolcall_detect, or by name):
 *   hermes       Hermes 2 Pro, Qwen2.5/3, SmolLM3:  <tool_call>{"name": N, "arguments": {..}}</tool_call>
 *                (any number, text before, between and after them stays content)
 *   llama3_json  Llama 3.x: the whole message is {"name": N, "parameters": {..}} (or "arguments"),
 *                optionally after <|python_tag|>, several separated by ';'
 *   mistral      [TOOL_CALLS][{"name": N, "arguments": {..}}, ...]  and the newer
 *                [TOOL_CALLS]N[ARGS]{..} (repeatable); text before stays content
 * Reasoning: text inside <think>...</think> at the start of the output (or after a generation
 * prompt that already opened <think>) is reasoning, not content.
 *
 * Robustness: a call whose JSON is malformed, or that lacks a string "name" or has non-object
 * arguments, is not a call: its text (markers included) stays content. The incremental parser
 * holds back only text that may still become a call or a marker, and it decides every piece
 * exactly as the one-shot parse of the whole text does (the unit tests cut texts at every byte).
 * Whitespace right before a call, between calls and after the last one is dropped (layout);
 * whitespace between a call and text that follows it stays. */
#ifndef SL_TOOLCALL_H
#define SL_TOOLCALL_H

#include <stddef.h>

#include "buf.h"

typedef enum sl_toolcall_format {
    SL_TOOLCALL_NONE = 0,
    SL_TOOLCALL_HERMES,
    SL_TOOLCALL_LLAMA3_JSON,
    SL_TOOLCALL_MISTRAL
} sl_toolcall_format;

/* "none", "hermes", "llama3_json", "mistral". */
const char *sl_toolcall_format_name(sl_toolcall_format f);
/* A name above → its format; "auto" → -2; anything else → -1. */
int sl_toolcall_format_parse(const char *name);
/* The format a chat template's Jinja source writes calls in, by its markers: "<tool_call>" →
 * hermes, "[TOOL_CALLS]" → mistral, "<|python_tag|>" or "ipython" → llama3_json; else NONE
 * (also for NULL). */
sl_toolcall_format sl_toolcall_detect(const char *template_src);
/* 1 when the template's source writes <think> blocks (a reasoning model), else 0. */
int sl_toolcall_detect_reasoning(const char *template_src);
/* 1 when a rendered prompt ends inside an opened <think> (the generation prompt opened it, as
 * DeepSeek-R1's and Qwen3's do): the output then starts as reasoning. */
int sl_toolcall_prompt_opens_think(const char *prompt, size_t len);

typedef struct sl_toolcall {
    char *name;      /* NUL-terminated, malloc'ed */
    char *arguments; /* the arguments object as compact JSON text, malloc'ed */
} sl_toolcall;

/* What one feed produced. Ownership: the caller's; sl_toolcall_out_clear frees the pieces and
 * keeps the struct reusable (a zeroed struct is empty and valid). */
typedef struct sl_toolcall_out {
    sl_buf content;      /* new content text */
    sl_buf reasoning;    /* new reasoning text */
    sl_toolcall *calls;  /* (n_calls) calls completed by this feed, in order */
    int n_calls, cap_calls;
} sl_toolcall_out;

void sl_toolcall_out_clear(sl_toolcall_out *o);
void sl_toolcall_out_free(sl_toolcall_out *o); /* everything, also the buffers */

typedef struct sl_toolcall_parser sl_toolcall_parser;

/* A parser for one generation. FMT: the call format (NONE: no calls, only reasoning if asked).
 * REASONING: split off <think> blocks. THINK_OPEN: the prompt already opened <think>.
 * 0 or SL_ENOMEM. */
int sl_toolcall_parser_new(sl_toolcall_parser **out, sl_toolcall_format fmt, int reasoning, int think_open);
void sl_toolcall_parser_free(sl_toolcall_parser *p);

/* Feeds the next N bytes of generated text (N may be 0); FINAL: the generation has ended (then
 * nothing is held back any more). Appends what became certain to OUT. 0, or SL_ENOMEM (the
 * parser is then unusable), or SL_EINVAL when fed after FINAL. */
int sl_toolcall_feed(sl_toolcall_parser *p, const char *text, size_t n, int final, sl_toolcall_out *out);
/* Calls emitted so far (the index of the next one). */
int sl_toolcall_count(const sl_toolcall_parser *p);

/* One-shot: the whole TEXT at once (a parser fed once with FINAL). */
int sl_toolcall_parse(sl_toolcall_format fmt, int reasoning, int think_open, const char *text, size_t n,
                      sl_toolcall_out *out);

#endif
