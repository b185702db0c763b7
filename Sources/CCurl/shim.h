#ifndef SBS_CCURL_SHIM_H
#define SBS_CCURL_SHIM_H
#include <curl/curl.h>
#endif
