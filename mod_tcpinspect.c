/*
 * mod_tcpinspect.c — the module record, the directives' table and the
 * hook registration. The httpd glue is in src/httpd/, one file per concern
 * over one private header (mod_tcpinspect.h); everything else lives in the
 * core library (the stages of src/, include/tcpi/), which never sees httpd.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_protocol.h"
#include "mod_proxy.h"
#include "mod_status.h"

#include "mpm_common.h"
#include "httpd/mod_tcpinspect.h"

/* The directives; their setters are in src/httpd/config.c. */
static const command_rec tcpi_cmds[] = {
    AP_INIT_FLAG("TCPInspectEngine", tcpi_httpd_set_engine, NULL, RSRC_CONF,
                 "On to run the capture worker"),
    AP_INIT_TAKE_ARGV("TCPInspectFrontend", tcpi_httpd_set_leg, NULL,
                      RSRC_CONF,
                      "[interface] port... of the client-facing leg"),
    AP_INIT_TAKE_ARGV("TCPInspectBackend", tcpi_httpd_set_leg, (void *)1,
                      RSRC_CONF, "[interface] port... of the backend leg"),
    AP_INIT_TAKE1("TCPInspectFilter", tcpi_httpd_set_filter, NULL, RSRC_CONF,
                  "BPF expression ANDed with the port scope"),
    AP_INIT_TAKE1("TCPInspectSnaplen", tcpi_httpd_set_size, "snaplen",
                  RSRC_CONF, "bytes kept per packet"),
    AP_INIT_TAKE1("TCPInspectRingSize", tcpi_httpd_set_size, "ring", RSRC_CONF,
                  "size of the shared recent-packet ring"),
    AP_INIT_TAKE1("TCPInspectKernelBuffer", tcpi_httpd_set_size, "kbuf",
                  RSRC_CONF, "kernel capture buffer per interface"),
    AP_INIT_TAKE_ARGV("TCPInspectThreshold", tcpi_httpd_set_threshold, NULL,
                      RSRC_CONF,
                      "STATE warning critical [front|backend|backend_local]"),
    AP_INIT_TAKE1("TCPInspectCaptureDir", tcpi_httpd_set_capture_dir, NULL,
                  RSRC_CONF, "directory for triggered per-request captures"),
    AP_INIT_TAKE2("TCPInspectCaptureLimit", tcpi_httpd_set_capture_limit, NULL,
                  RSRC_CONF, "count size: bound of the capture directory"),
    AP_INIT_TAKE_ARGV("TCPInspectRedact", tcpi_httpd_set_redact, NULL,
                      RSRC_CONF,
                      "header names masked in decoded views, or Off"),
    AP_INIT_FLAG("TCPInspectAllowDownload", tcpi_httpd_set_allow_download, NULL,
                 OR_AUTHCFG | RSRC_CONF, "serve raw pcap/pcapng downloads"),
    AP_INIT_TAKE1("TCPInspectCapture", tcpi_httpd_set_capture, NULL,
                  OR_AUTHCFG | RSRC_CONF, "On, Off or expr=<expression>"),
    AP_INIT_FLAG("TCPInspectTLSKeys", tcpi_httpd_set_tls_keys, NULL, RSRC_CONF,
                 "keep each TLS front connection's secrets (from mod_ssl) "
                 "for its pcapng downloads"),
    AP_INIT_TAKE1("TCPInspectRequestLog", tcpi_httpd_set_request_log, NULL,
                  RSRC_CONF, "file or \"|command\": each joined request as "
                  "one JSON line"),
    { NULL }
};

static void tcpi_register_hooks(apr_pool_t *p)
{
    /* Requests (src/httpd/request.c). */
    ap_hook_pre_connection(tcpi_httpd_pre_connection, NULL, NULL,
                           APR_HOOK_MIDDLE);
    ap_hook_post_read_request(tcpi_httpd_post_read_request, NULL, NULL,
                              APR_HOOK_LAST);
    /* Before mod_log_config, so %{tcpinspect-id}n is set when it logs. */
    ap_hook_log_transaction(tcpi_httpd_log_transaction, NULL, NULL,
                            APR_HOOK_FIRST);
    /* mod_proxy runs create_req as an optional hook: registered by name,
     * so the module loads (and simply sees no backend) without it. */
    APR_OPTIONAL_HOOK(proxy, create_req, tcpi_httpd_proxy_create_req, NULL,
                      NULL, APR_HOOK_MIDDLE);
    /* The mod_status section (src/httpd/status.c). */
    APR_OPTIONAL_HOOK(ap, status_hook, tcpi_httpd_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
    /* Configuration (src/httpd/config.c) and the capture worker
     * (src/httpd/worker.c). */
    ap_hook_check_config(tcpi_httpd_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(tcpi_httpd_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(tcpi_httpd_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(tcpi_httpd_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    /* TLS facts and secrets from mod_ssl (src/httpd/tls.c). */
    tcpi_httpd_tls_register();
    /* The pages (src/httpd/pages.c, download.c). */
    ap_hook_handler(tcpi_httpd_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(tcpinspect) = {
    STANDARD20_MODULE_STUFF,
    tcpi_httpd_create_dir_conf,
    tcpi_httpd_merge_dir_conf,
    tcpi_httpd_create_srv_conf,
    NULL,
    tcpi_cmds,
    tcpi_register_hooks
};
