#ifndef SBS_CEDITLINE_SHIM_H
#define SBS_CEDITLINE_SHIM_H

// libedit's el_set/el_get/history are C-variadic, which Swift cannot call: these typed wrappers can.
// Swift 6 also rejects the C globals stdin/stdout, so they are wrapped too.

#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <histedit.h>

typedef char *(*sbs_prompt_fn)(EditLine *);
typedef unsigned char (*sbs_command_fn)(EditLine *, int);

static inline FILE *sbs_stdin(void) { return stdin; }
static inline FILE *sbs_stdout(void) { return stdout; }
static inline FILE *sbs_stderr(void) { return stderr; }

static inline int sbs_el_set_prompt(EditLine *el, sbs_prompt_fn fn) { return el_set(el, EL_PROMPT, fn); }
static inline int sbs_el_set_editor(EditLine *el, const char *mode) { return el_set(el, EL_EDITOR, mode); }
static inline int sbs_el_set_signal(EditLine *el, int on) { return el_set(el, EL_SIGNAL, on); }
static inline int sbs_el_set_clientdata(EditLine *el, void *data) { return el_set(el, EL_CLIENTDATA, data); }
static inline void *sbs_el_get_clientdata(EditLine *el) {
    void *data = NULL;
    el_get(el, EL_CLIENTDATA, &data);
    return data;
}
static inline int sbs_el_addfn(EditLine *el, const char *name, const char *help, sbs_command_fn fn) {
    return el_set(el, EL_ADDFN, name, help, fn);
}
static inline int sbs_el_bind(EditLine *el, const char *key, const char *command) {
    return el_set(el, EL_BIND, key, command, NULL);
}
static inline int sbs_el_set_history(EditLine *el, History *h) { return el_set(el, EL_HIST, history, h); }
static inline History *sbs_history_init(void) {
    History *h = history_init();
    HistEvent ev;
    if (h) history(h, &ev, H_SETSIZE, 100);
    return h;
}
static inline void sbs_history_enter(History *h, const char *line) {
    HistEvent ev;
    history(h, &ev, H_ENTER, line);
}

#endif
