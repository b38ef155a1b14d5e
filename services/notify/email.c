/*
 * services/notify/email.c - e-mail notifications as MIME text:
 * multipart/alternative with a text/plain and a text/html part. A digest is
 * one message listing all its items.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify.h"
#include "util/buf.h"
#include "util/ids.h"

#define MAIL_CAP (4u << 20)

/* One human line for an item: "<type>: <title or content id> (<region>)". */
static int item_line(struct util_buf *b, json_t *item, bool html)
{
	json_t *d = json_object_get(item, "data");
	const char *type = json_string_value(json_object_get(item, "type"));
	const char *what = json_string_value(json_object_get(d, "title"));
	const char *region = json_string_value(json_object_get(d, "region_code"));
	const char *decision = json_string_value(json_object_get(d, "decision"));
	struct util_buf esc;
	int rc = 0;

	if (!what)
		what = json_string_value(json_object_get(d, "name"));
	if (!what)
		what = json_string_value(json_object_get(d, "content_id"));
	util_buf_init(&esc, 4096);
	/* HTML-escape the free text (titles come from users). */
	for (const char *p = what ? what : ""; html && *p && !rc; p++)
		rc = *p == '<'	 ? util_buf_append_str(&esc, "&lt;")
		     : *p == '>' ? util_buf_append_str(&esc, "&gt;")
		     : *p == '&' ? util_buf_append_str(&esc, "&amp;")
		     : *p == '"' ? util_buf_append_str(&esc, "&quot;")
				 : util_buf_append(&esc, p, 1);
	if (!rc)
		rc = util_buf_printf(b, "%s%s: %s%s%s (%s)%s\r\n", html ? "<li>" : "- ",
				     type ? type : "notification",
				     html ? (esc.data ? esc.data : "") : (what ? what : ""),
				     decision ? " - " : "", decision ? decision : "",
				     region ? region : "", html ? "</li>" : "");
	util_buf_release(&esc);
	return rc;
}

static int body_part(struct util_buf *b, json_t *payload, bool html)
{
	json_t *items = json_object_get(payload, "items"), *it;
	bool digest = json_is_array(items);
	size_t i;
	int rc;

	rc = util_buf_printf(b, "%s", html ? "<html><body><p>" : "");
	if (!rc && digest)
		rc = util_buf_printf(b, "Simpul digest: %zu notifications%s\r\n",
				     json_array_size(items), html ? "</p><ul>" : "\r\n");
	else if (!rc)
		rc = util_buf_printf(b, "Simpul notification%s\r\n", html ? "</p><ul>" : "\r\n");
	if (digest) {
		json_array_foreach(items, i, it) {
			if (!rc)
				rc = item_line(b, it, html);
		}
	} else if (!rc) {
		rc = item_line(b, payload, html);
	}
	if (!rc && html)
		rc = util_buf_append_str(b, "</ul></body></html>\r\n");
	return rc;
}

char *notify_email_build(const char *from, const char *to, const char *delivery_id,
			 json_t *payload)
{
	struct util_buf b;
	char boundary[40], date[64];
	const char *type = json_string_value(json_object_get(payload, "type"));
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	util_uuid_v4(boundary);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	util_buf_init(&b, MAIL_CAP);
	rc = util_buf_printf(&b,
			     "From: Simpul <%s>\r\nTo: <%s>\r\nDate: %s\r\n"
			     "Message-ID: <%s@simpul>\r\nSubject: [Simpul] %s\r\n"
			     "MIME-Version: 1.0\r\n"
			     "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
			     "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			     "Content-Transfer-Encoding: 8bit\r\n\r\n",
			     from, to, date, delivery_id,
			     type && !strcmp(type, "digest") ? "digest" : (type ? type : "notification"),
			     boundary, boundary);
	if (!rc)
		rc = body_part(&b, payload, false);
	if (!rc)
		rc = util_buf_printf(&b,
				     "\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
				     "Content-Transfer-Encoding: 8bit\r\n\r\n",
				     boundary);
	if (!rc)
		rc = body_part(&b, payload, true);
	if (!rc)
		rc = util_buf_printf(&b, "\r\n--%s--\r\n", boundary);
	if (rc) {
		util_buf_release(&b);
		return NULL;
	}
	return util_buf_steal(&b);
}
