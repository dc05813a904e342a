/*  cf_link - cf-server's broker links: the public entry points  */
#include "cf_link_int.h"

cf_err_t cf_link_send_job(cf_link_t *link, const char *job_id)
{
    if (!link)
        return CF_OK;
    return cf_link_queue_push(&link->queue, job_id);
}

const char *cf_link_public_z85(const cf_link_t *link)
{
    return link ? link->z85 : "";
}
