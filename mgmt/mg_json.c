/*
 * mg_json.c - mg_json.h.
 */
#include "mg_json.h"

#include <stdlib.h>
#include <string.h>

#include "mg_result.h"

json_t *mg_json_text(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	char *t = strdup(s);
	if (!t)
		return NULL;
	mg_utf8_scrub(t);
	j = json_string(t);
	free(t);
	return j;
}
