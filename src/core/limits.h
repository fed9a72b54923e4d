/* Every size ceiling in one place. */
#ifndef VZ_CORE_LIMITS_H
#define VZ_CORE_LIMITS_H

#define VZ_MAX_HTTP_BODY (1024u * 1024u)          /* JSON request bodies */
#define VZ_MAX_HTTP_DISCARD (16u * 1024u * 1024u) /* over-limit body read and dropped */
#define VZ_MAX_SQL (256u * 1024u)                 /* custom SQL text */
#define VZ_MAX_SECRET_LEN 4096u                   /* a password or key */
#define VZ_MAX_LOG_LINE 4096u                     /* one log line after formatting */
#define VZ_MAX_SECRETS 1024u                      /* registered redaction strings */
#define VZ_MAX_KEYFILE 4096u                      /* secret.key size */

#endif
