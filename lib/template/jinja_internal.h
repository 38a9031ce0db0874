/* jinja_internal.h — values, AST and arena shared by the Jinja engine's files (not public). */
#ifndef SL_JINJA_INTERNAL_H
#define SL_JINJA_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "jinja.h"

/* ---------------------------------------------------------------- arena */

/* Bump allocator: everything a parse or a render makes lives here and goes at once.
 * Allocation past `cap` bytes or a failing malloc longjmps to `*fail`. */
typedef struct ja_chunk ja_chunk;
typedef struct ja_arena {
    ja_chunk *head;
    size_t used, cap; /* bytes handed out so far, the limit */
    jmp_buf *fail;    /* where an allocation failure goes (never NULL while in use) */
    int *fail_code;   /* set to SL_ENOMEM or SL_ETOOBIG before the jump */
} ja_arena;

void *ja_alloc(ja_arena *a, size_t n); /* zeroed, 16-byte aligned */
void ja_free_all(ja_arena *a);
char *ja_strndup(ja_arena *a, const char *s, size_t n);

/* ---------------------------------------------------------------- values */

typedef enum jt {
    JV_UNDEF, /* s/n: the name that was looked up (for messages) */
    JV_NONE,
    JV_BOOL,  /* i */
    JV_INT,   /* i */
    JV_FLOAT, /* f */
    JV_STR,   /* s, n (UTF-8, not NUL-terminated) */
    JV_LIST,  /* l (tuple: l->tuple) */
    JV_DICT,  /* d */
    JV_NS,    /* d: namespace() */
    JV_MACRO, /* mc */
    JV_FUNC,  /* i: a global builtin (JF_*) */
    JV_METHOD,/* me: a bound method of a str / list / dict */
    JV_LOOP   /* lp */
} jt;

typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jmacro jmacro;
typedef struct jmethod jmethod;
typedef struct jloop jloop;
typedef struct jframe jframe;

typedef struct jval {
    int t;
    size_t n;
    union {
        int64_t i;
        double f;
        const char *s;
        jlist *l;
        jdict *d;
        jmacro *mc;
        jmethod *me;
        jloop *lp;
    };
} jval;

struct jlist {
    size_t n, cap;
    jval *v;
    int tuple; /* 1 tuple; 2 groupby's (grouper, list) pair: a tuple with those two attributes */
};
struct jdict {
    size_t n, cap;
    jval *k, *v;
};
struct jmethod {
    jval self;
    const char *name;
};
struct jloop {
    int64_t index0, length;
    jlist *items;
    int depth0;
    const struct jnode *node; /* the N_FOR (op 1: recursive, then calling loop(items) renders it again) */
    jframe *frame;            /* the scope the loop runs in */
    jval last_changed;
    int changed_set;
};

enum { JF_RAISE = 1, JF_STRFTIME, JF_NAMESPACE, JF_RANGE, JF_DICT, JF_CYCLER, JF_JOINER, JF_CALLER };

/* ---------------------------------------------------------------- AST */

typedef enum jk {
    /* statements */
    N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_CALLBLOCK, N_FILTERBLOCK, N_BREAK, N_CONTINUE,
    N_WITH, N_BODY,
    /* expressions */
    N_LIT, N_NAME, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_BIN, N_NEG, N_POS, N_NOT, N_AND, N_OR,
    N_COMPARE, N_COND, N_LIST, N_TUPLE, N_DICT
} jk;

/* binary / comparison operators */
enum { OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT,
       OP_GE, OP_IN, OP_NOTIN };

typedef struct jnode jnode;
struct jnode {
    int kind, line, op;
    jnode *a, *b, *c, *d;
    jnode **list;      /* body / items / positional+keyword args (in order) / params defaults */
    int n;
    jnode **list2;     /* else body / dict values */
    int n2;
    const char **names; /* keyword-argument names (NULL for positional) / macro params / targets */
    int nnames;
    int *ops;          /* comparison operators (n entries) */
    const char *name;  /* variable, attribute, filter, test, macro name (NUL-terminated) */
    jval lit;
    int trim;          /* N_TEXT: nothing */
};

struct sl_jinja {
    ja_arena arena;
    jnode *root; /* N_BODY */
};

struct jmacro {
    const jnode *def; /* N_MACRO (or the caller body of a N_CALLBLOCK); def->op: MACRO_USES_* */
    jframe *closure;  /* the scope it was defined in */
    jval caller;      /* for macros called through {% call %} */
};
enum { MACRO_USES_VARARGS = 1, MACRO_USES_KWARGS = 2 };

/* ---------------------------------------------------------------- values API (jinja_value.c) */

typedef struct jrender {
    ja_arena arena;
    jmp_buf jb;
    int code;
    char *err;
    size_t errlen;
    const sl_jinja_limits *lim;
    long steps;
    int depth;
    struct timespec deadline;
    int64_t now;
    jframe *globals;
    int ctl; /* 1 break, 2 continue (pending) */
    size_t out_max;
} jrender;

/* Fails the render: formats the message and longjmps out (never returns). */
void jr_fail(jrender *r, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4), noreturn))
#endif
    ;
ja_arena *jr_arena(jrender *r);

static inline jval jv_undef(const char *name) {
    jval v = {.t = JV_UNDEF, .s = name, .n = name ? __builtin_strlen(name) : 0};
    return v;
}
static inline jval jv_none(void) { return (jval){.t = JV_NONE}; }
static inline jval jv_bool(int b) { return (jval){.t = JV_BOOL, .i = b != 0}; }
static inline jval jv_int(int64_t i) { return (jval){.t = JV_INT, .i = i}; }
static inline jval jv_float(double f) { return (jval){.t = JV_FLOAT, .f = f}; }
static inline jval jv_strn(const char *s, size_t n) { return (jval){.t = JV_STR, .s = s, .n = n}; }

jval jv_str_copy(jrender *r, const char *s, size_t n);
jval jv_list_new(jrender *r, size_t cap);
void jv_list_push(jrender *r, jlist *l, jval v);
jval jv_dict_new(jrender *r, size_t cap);
jval *jv_dict_get(const jdict *d, const char *key, size_t klen);
jval *jv_dict_getv(const jdict *d, jval key);
void jv_dict_set(jrender *r, jdict *d, jval key, jval v);

int jv_truthy(jval v);
int jv_equal(jval a, jval b);
int jv_compare(jrender *r, jval a, jval b); /* <0, 0, >0; type error otherwise */
const char *jv_type_name(jval v);
int jv_is_num(jval v); /* int, float or bool */
double jv_num(jval v);

/* A string builder in the render's arena (growth past the memory limit fails the render). */
typedef struct jsb {
    char *p;
    size_t n, cap;
} jsb;
void jsb_put(jrender *r, jsb *b, const char *s, size_t n);
void jsb_str(jrender *r, jsb *b, const char *s);
void jsb_char(jrender *r, jsb *b, char c);
jval jsb_val(jsb *b); /* the built string as a value */

/* Python str(v) / repr(v) appended to B. */
void jv_str_into(jrender *r, jsb *b, jval v);
void jv_repr_into(jrender *r, jsb *b, jval v);
jval jv_to_str(jrender *r, jval v); /* str(v) as a string value */
/* json.dumps(v, ensure_ascii=False, indent, separators, sort_keys). indent: NULL for none. */
void jv_json_into(jrender *r, jsb *b, jval v, const char *indent, size_t indent_n, const char *item_sep,
                  const char *key_sep, int sort_keys, int level);
void jv_float_repr(double f, char *out, size_t outlen); /* Python repr(float) */
jval jv_from_json(jrender *r, const json_t *j);

/* UTF-8 helpers */
size_t ju_len(const char *s, size_t n);                   /* code points */
size_t ju_next(const char *s, size_t n, size_t i);         /* index after the code point at i */
size_t ju_offset(const char *s, size_t n, int64_t cp_index); /* byte offset of a code point index */

/* ---------------------------------------------------------------- builtins (jinja_builtins.c) */

typedef struct jargs {
    jval *pos;
    int npos;
    jval *kwv;
    const char **kwn;
    int nkw;
} jargs;

/* args.pos[0] is the value filtered / tested. */
jval jb_filter(jrender *r, const char *name, jargs *a, int line);
int jb_test(jrender *r, const char *name, jargs *a, int line);
int jb_has_test(const char *name);
int jb_has_filter(const char *name);
jval jb_method(jrender *r, jval self, const char *name, jargs *a);
int jb_is_method(jval self, const char *name); /* 1 method, 2 unsafe (mutating), 0 none */
jval jr_call_value(jrender *r, jval fn, jargs *a, int line); /* in jinja_render.c */
jval jb_getattr(jrender *r, jval obj, const char *name, size_t n);
jval jb_getitem(jrender *r, jval obj, jval key);
jval jv_iterate(jrender *r, jval v); /* a list of the items `for` visits */
int64_t jr_now(jrender *r);
void jr_step(jrender *r); /* counts a step; checks the step budget and the deadline */

/* Keyword or positional argument I (or NAME); NULL if absent. */
jval *jb_arg(jargs *a, int i, const char *name);

#endif
