#ifndef SBS_CCURL_SHIM_H
#define SBS_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are C-variadic, which Swift cannot call: one typed wrapper per
   argument type sbs passes. */

typedef size_t (*sbs_curl_data_callback)(char *data, size_t size, size_t count, void *userdata);
typedef int (*sbs_curl_progress_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode sbs_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_callback(CURL *handle, CURLoption option, sbs_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_setopt_progress(CURL *handle, CURLoption option, sbs_curl_progress_callback value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode sbs_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode sbs_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}
/* CURLINFO_CERTINFO: the chain the server presented (with CURLOPT_CERTINFO set). */
static inline CURLcode sbs_curl_getinfo_certinfo(CURL *handle, struct curl_certinfo **value) {
    return curl_easy_getinfo(handle, CURLINFO_CERTINFO, value);
}
#endif
