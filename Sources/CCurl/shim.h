#ifndef SBS_CCURL_SHIM_H
#define SBS_CCURL_SHIM_H
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

/* libcurl is loaded when sbs first makes an HTTP request (dlopen of libcurl.so.4), not when sbs starts: loading
   it and its dependencies (OpenSSL, GnuTLS, Kerberos, LDAP, nghttp2 …) costs about 13 ms of CPU, four fifths of
   `sbs --version`, and most commands never speak HTTP. Every libcurl function sbs calls goes through this table.

   curl_easy_setopt and curl_easy_getinfo are C-variadic, which Swift cannot call: one typed wrapper per argument
   type sbs passes. */

typedef size_t (*sbs_curl_data_callback)(char *data, size_t size, size_t count, void *userdata);
typedef int (*sbs_curl_progress_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
typedef int (*sbs_curl_debug_callback)(CURL *handle, curl_infotype type, char *data, size_t size, void *userdata);

struct sbs_curl_api {
    int loaded; /* 1: every function found; 0: libcurl.so.4 or a function is missing (see error) */
    char error[256];
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    CURLcode (*easy_perform)(CURL *);
    void (*easy_reset)(CURL *);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
};

static inline struct sbs_curl_api *sbs_curl_api_storage(void) {
    static struct sbs_curl_api api;
    return &api;
}

static inline void sbs_curl_load_once(void) {
    struct sbs_curl_api *api = sbs_curl_api_storage();
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *reason = dlerror();
        __builtin_snprintf(api->error, sizeof api->error, "%s", reason ? reason : "libcurl.so.4 could not be loaded");
        return;
    }
#define SBS_CURL_LOAD(field, name) \
    *(void **)(&api->field) = dlsym(library, name); \
    if (!api->field) { __builtin_snprintf(api->error, sizeof api->error, "libcurl.so.4 has no %s", name); return; }
    SBS_CURL_LOAD(global_init, "curl_global_init")
    SBS_CURL_LOAD(easy_init, "curl_easy_init")
    SBS_CURL_LOAD(easy_setopt, "curl_easy_setopt")
    SBS_CURL_LOAD(easy_getinfo, "curl_easy_getinfo")
    SBS_CURL_LOAD(easy_perform, "curl_easy_perform")
    SBS_CURL_LOAD(easy_reset, "curl_easy_reset")
    SBS_CURL_LOAD(easy_cleanup, "curl_easy_cleanup")
    SBS_CURL_LOAD(easy_strerror, "curl_easy_strerror")
    SBS_CURL_LOAD(slist_append, "curl_slist_append")
    SBS_CURL_LOAD(slist_free_all, "curl_slist_free_all")
#undef SBS_CURL_LOAD
    api->loaded = 1;
}

/* The loaded table (loaded once, thread-safe), or NULL when libcurl cannot be used; `sbs_curl_load_error` says why. */
static inline struct sbs_curl_api *sbs_curl(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sbs_curl_load_once);
    struct sbs_curl_api *api = sbs_curl_api_storage();
    return api->loaded ? api : NULL;
}

static inline const char *sbs_curl_load_error(void) { return sbs_curl_api_storage()->error; }

static inline CURLcode sbs_curl_global_init(long flags) {
    struct sbs_curl_api *api = sbs_curl();
    return api ? api->global_init(flags) : CURLE_FAILED_INIT;
}
static inline CURL *sbs_curl_easy_init(void) {
    struct sbs_curl_api *api = sbs_curl();
    return api ? api->easy_init() : NULL;
}
static inline CURLcode sbs_curl_easy_perform(CURL *handle) { return sbs_curl()->easy_perform(handle); }
static inline void sbs_curl_easy_reset(CURL *handle) { sbs_curl()->easy_reset(handle); }
static inline void sbs_curl_easy_cleanup(CURL *handle) {
    struct sbs_curl_api *api = sbs_curl();
    if (api && handle) api->easy_cleanup(handle);
}
static inline const char *sbs_curl_easy_strerror(CURLcode code) { return sbs_curl()->easy_strerror(code); }
static inline struct curl_slist *sbs_curl_slist_append(struct curl_slist *list, const char *text) {
    return sbs_curl()->slist_append(list, text);
}
static inline void sbs_curl_slist_free_all(struct curl_slist *list) {
    struct sbs_curl_api *api = sbs_curl();
    if (api && list) api->slist_free_all(list);
}

static inline CURLcode sbs_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return sbs_curl()->easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return sbs_curl()->easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return sbs_curl()->easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return sbs_curl()->easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return sbs_curl()->easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_callback(CURL *handle, CURLoption option, sbs_curl_data_callback value) {
    return sbs_curl()->easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_progress(CURL *handle, CURLoption option, sbs_curl_progress_callback value) {
    return sbs_curl()->easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_debug(CURL *handle, CURLoption option, sbs_curl_debug_callback value) {
    return sbs_curl()->easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return sbs_curl()->easy_getinfo(handle, info, value);
}
static inline CURLcode sbs_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return sbs_curl()->easy_getinfo(handle, info, value);
}
/* CURLINFO_CERTINFO: the chain the server presented (with CURLOPT_CERTINFO set). */
static inline CURLcode sbs_curl_getinfo_certinfo(CURL *handle, struct curl_certinfo **value) {
    return sbs_curl()->easy_getinfo(handle, CURLINFO_CERTINFO, value);
}
#endif
