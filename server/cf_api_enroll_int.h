/*  cf_api_enroll_int - what the enrollment files share: the agent enroll route
    (cf_api_enroll.c) and the admin routes of tokens, revocation and decommission
    (cf_api_enroll_admin.c)  */
#ifndef CF_API_ENROLL_INT_H_INCLUDED
#define CF_API_ENROLL_INT_H_INCLUDED

#include <stddef.h>

#include "cf_app.h"
#include "cf_router.h"

#define CF_API_ENROLL_BODY  (24 * 1024) /* enroll body cap: a CSR (16 KiB PEM) and the rest */
#define CF_API_ENROLL_PROTO 1           /* protocol this server speaks */

/* The route group (docs/API.md "Enrollment"): POST /agent/enroll, POST /enroll-tokens,
   POST /agents/:id/revoke, DELETE /agents/:id. *routes_out points at a static table. */
size_t cf_api_enroll_routes(const cf_route_t **routes_out);

/* Handlers of cf_api_enroll_admin.c. */
void cf_api_enroll_token_create(cf_req_t *req, void *app);
void cf_api_enroll_revoke(cf_req_t *req, void *app);
void cf_api_enroll_decommission(cf_req_t *req, void *app);

#endif
