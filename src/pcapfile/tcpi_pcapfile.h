/*
 * tcpi_pcapfile.h — capture files: a classic pcap writer (what
 * `tcpdump -r` reads), a pcapng writer (libpcap cannot write pcapng), and
 * a bounds-checked reader for both. Writers stream through a tcpi_out_t,
 * so a download is written as it is read from the ring and never copied
 * whole; the same calls write a file through a file sink.
 *
 * pcapng (draft-ietf-opsawg-pcapng): one Section Header Block, one
 * Interface Description Block per interface (if_name, if_tsresol = 9,
 * if_filter, snaplen), Enhanced Packet Blocks with an optional opt_comment,
 * Interface Statistics Blocks at the end. Little-endian (host order on
 * every platform this runs on is written explicitly, not assumed).
 */
#ifndef TCPI_PCAPFILE_H
#define TCPI_PCAPFILE_H

#include "tcpi/common.h"

#include <stddef.h>
#include <stdint.h>

/* ---- classic pcap (microsecond timestamps, magic a1b2c3d4) ---------- */

/** The 24-byte file header. */
void tcpi_pcap_write_header(tcpi_out_t *o, int32_t linktype, uint32_t snaplen);
/** One record; ts_ns is rounded down to microseconds. */
void tcpi_pcap_write_packet(tcpi_out_t *o, uint64_t ts_ns, uint32_t caplen,
                            uint32_t wirelen, const uint8_t *data);

/* ---- pcapng ---------------------------------------------------------- */

typedef struct {
    const char *name;          /* if_name, e.g. "eth0" (NULL: none) */
    const char *description;   /* if_description, e.g. "frontend" (NULL) */
    const char *filter;        /* if_filter, BPF text (NULL) */
    int32_t     linktype;
    uint32_t    snaplen;
} tcpi_pcapng_if_t;

/** Section Header Block; appl goes in shb_userappl (NULL: none). */
void tcpi_pcapng_write_shb(tcpi_out_t *o, const char *appl);
/** Interface Description Block (ns timestamps: if_tsresol 9). Interfaces
 *  are numbered 0, 1, ... in the order they are written. */
void tcpi_pcapng_write_idb(tcpi_out_t *o, const tcpi_pcapng_if_t *ifc);
/** Enhanced Packet Block; comment (NUL-terminated, NULL for none) goes in
 *  opt_comment. */
void tcpi_pcapng_write_epb(tcpi_out_t *o, uint32_t ifid, uint64_t ts_ns,
                           uint32_t caplen, uint32_t wirelen,
                           const uint8_t *data, const char *comment);
/** Interface Statistics Block: isb_ifrecv, isb_ifdrop (kernel drops),
 *  isb_osdrop, isb_usrdeliv; UINT64_MAX leaves an option out. */
void tcpi_pcapng_write_isb(tcpi_out_t *o, uint32_t ifid, uint64_t ts_ns,
                           uint64_t ifrecv, uint64_t ifdrop,
                           uint64_t osdrop, uint64_t usrdeliv);

/** Decryption Secrets Block: len bytes of secrets of secrets_type (a
 *  TLS key log: TCPI_PCAPNG_SECRETS_TLS). Readers use the secrets for the
 *  packets after it, so it goes before them. */
#define TCPI_PCAPNG_SECRETS_TLS 0x544c534bu      /* "TLSK" */
void tcpi_pcapng_write_dsb(tcpi_out_t *o, uint32_t secrets_type,
                           const void *data, uint32_t len);

/* ---- reader (pcap in either byte order and µs/ns, pcapng) ----------- */

#define TCPI_CAPFILE_MAX_IFACES 64

typedef struct {
    uint32_t       ifid;       /* pcapng interface id; 0 for pcap */
    int32_t        linktype;
    uint64_t       ts_ns;
    uint32_t       caplen;
    uint32_t       wirelen;
    const uint8_t *data;       /* points into the caller's buffer */
    const char    *comment;    /* opt_comment (not NUL-terminated) */
    size_t         comment_len;
} tcpi_capfile_pkt_t;

typedef struct {
    char     name[64];         /* if_name (cut to 63 bytes), "" if none */
    char     description[64];  /* if_description */
    char     filter[256];      /* if_filter string (type 0), "" if none */
    int32_t  linktype;
    uint32_t snaplen;
    uint8_t  tsresol;          /* if_tsresol as in the file (6 default) */
    int      have_stats;       /* an ISB was seen for this interface */
    uint64_t ifrecv, ifdrop, osdrop, usrdeliv;  /* last ISB; UINT64_MAX: absent */
} tcpi_capfile_if_t;

typedef struct {
    const uint8_t *buf;
    size_t         len, pos;
    int            pcapng;     /* else classic pcap */
    int            bigendian;  /* byte order of the file (or section) */
    int            nsec;       /* classic pcap: ns magic a1b23c4d */
    uint32_t       nif;        /* pcapng: IDBs of the current section;
                                  pcap: 1 */
    uint32_t       sections;   /* pcapng SHBs seen */
    uint32_t       secrets_blocks;  /* pcapng DSBs seen (skipped) */
    tcpi_capfile_if_t ifc[TCPI_CAPFILE_MAX_IFACES];
    char           err[160];
} tcpi_capfile_t;

/** Start reading a whole file held in memory. 0, or -1 with r->err set. */
int tcpi_capfile_open(tcpi_capfile_t *r, const uint8_t *buf, size_t len);
/** The next packet: 1, 0 at a clean end, -1 on malformed input (r->err).
 *  Every length is checked against the buffer before it is used; unknown
 *  pcapng blocks are skipped, ISBs update r->ifc[].ifrecv etc. */
int tcpi_capfile_next(tcpi_capfile_t *r, tcpi_capfile_pkt_t *pkt);

#endif
