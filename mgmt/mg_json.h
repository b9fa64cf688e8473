/*
 * mg_json.h - jansson helpers the front-ends share (mg_ctl, mg_http).
 */
#ifndef MG_JSON_H
#define MG_JSON_H

#include <jansson.h>

/*
 * A JSON string of s, which may hold invalid UTF-8 (a message quoting user
 * input): valid sequences kept, the rest replaced (mg_utf8_scrub); null for
 * NULL. NULL only when out of memory.
 */
json_t *mg_json_text(const char *s);

#endif /* MG_JSON_H */
