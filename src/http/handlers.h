/* Request handlers, one per endpoint, grouped in files by resource. */
#ifndef VZ_HTTP_HANDLERS_H
#define VZ_HTTP_HANDLERS_H

#include "http/server.h"

/* h_system.c */
void vz_h_health(struct vz_req *r);

/* h_system_info.c */
void vz_h_system_info(struct vz_req *r);

/* h_auth.c */
void vz_h_login(struct vz_req *r);
void vz_h_logout(struct vz_req *r);
void vz_h_session(struct vz_req *r);

/* h_connections.c */
void vz_h_conn_create(struct vz_req *r);
void vz_h_conn_list(struct vz_req *r);
void vz_h_conn_get(struct vz_req *r);
void vz_h_conn_update(struct vz_req *r);
void vz_h_conn_delete(struct vz_req *r);
void vz_h_conn_test(struct vz_req *r);
void vz_h_conn_schema(struct vz_req *r);
void vz_h_conn_role_sql(struct vz_req *r);

/* h_datasets.c */
void vz_h_extract(struct vz_req *r);
void vz_h_job_get(struct vz_req *r);
void vz_h_job_cancel(struct vz_req *r);
void vz_h_dataset_list(struct vz_req *r);
void vz_h_dataset_get(struct vz_req *r);
void vz_h_dataset_delete(struct vz_req *r);
void vz_h_dataset_download(struct vz_req *r);
void vz_h_dataset_rows(struct vz_req *r);
void vz_h_dataset_reprocess(struct vz_req *r);

/* h_search.c */
void vz_h_search(struct vz_req *r);
void vz_h_ask(struct vz_req *r);

#endif
