/*
 * tcpi_export.h — the ring as a capture file: the packets a prepared
 * tcpi_query_t selects, streamed record by record through a tcpi_out_t
 * as classic pcap or pcapng (tcpi_pcapfile.h). Nothing is copied
 * wholesale: one packet buffer, reused.
 *
 * pcapng: one IDB per interface of the shared table (interface id =
 * table index) with its name, its leg as the description, its BPF text
 * and the snaplen; EPBs in ring order with a comment "ring #<n> <leg>";
 * one ISB per interface at the end with the pcap_stats counters
 * (isb_ifrecv = ps_recv, isb_osdrop = ps_drop, isb_ifdrop = ps_ifdrop,
 * isb_usrdeliv = packets written to the ring).
 */
#ifndef TCPI_EXPORT_H
#define TCPI_EXPORT_H

#include "tcpi/common.h"
#include "tcpi_query.h"

/** The link type a classic pcap export of interface `iface` (-1: all)
 *  can use: that interface's, or the one every active interface shares.
 *  0, or -1 with a message naming the interfaces in err. An interface
 *  that is not active yet counts as Ethernet. */
int tcpi_export_linktype(int32_t *linktype, const tcpi_shm_t *shm, int iface,
                         char *err, size_t errlen);

/** Classic pcap of the query's packets of this link type (others are
 *  skipped). buf holds one packet (bufsize >= the ring's max caplen).
 *  Returns the number of packets written. */
uint64_t tcpi_export_pcap(tcpi_out_t *o, tcpi_query_t *q, int32_t linktype,
                          uint32_t snaplen, uint8_t *buf, size_t bufsize);

/** pcapng of the query's packets; now_ns stamps the statistics blocks.
 *  secrets: with a Decryption Secrets Block for each closed TLS connection
 *  of the window whose secrets the request log holds (0 where no host
 *  keeps keys: the log is then not walked). Returns the number of packets
 *  written. */
uint64_t tcpi_export_pcapng(tcpi_out_t *o, tcpi_query_t *q, uint32_t snaplen,
                            uint64_t now_ns, uint8_t *buf, size_t bufsize,
                            int secrets);

/** Decides for each packet the query selects whether it goes in the file,
 *  and writes its opt_comment (NUL-terminated, at most commentlen bytes;
 *  leave it empty for none). Returns 1 to keep the packet, 0 to skip it. */
typedef int tcpi_export_pick_fn(void *baton, const tcpi_ring_rec_t *rec,
                                const uint8_t *data, char *comment,
                                size_t commentlen);

/** tcpi_export_pcapng with a caller's selection and comments (e.g. the
 *  packets of one request, each named by request id and leg). */
uint64_t tcpi_export_pcapng_pick(tcpi_out_t *o, tcpi_query_t *q,
                                 uint32_t snaplen, uint64_t now_ns,
                                 uint8_t *buf, size_t bufsize,
                                 tcpi_export_pick_fn *pick, void *baton);

/** Leg bits as a word: "frontend", "backend", "frontend+backend", "". */
const char *tcpi_export_leg_name(uint32_t legs);

#endif
