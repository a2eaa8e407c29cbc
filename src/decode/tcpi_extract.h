/*
 * tcpi_extract.h — bounds-checked reads of captured bytes (the idea of
 * tcpdump's extract.h: every read names its offset and is checked against
 * the captured length first; a packet pointer is never cast to a struct).
 *
 * Each getter returns 0 and stores the value, or -1 when the bytes
 * [off, off + size) are not all inside [0, caplen).
 */
#ifndef TCPI_EXTRACT_H
#define TCPI_EXTRACT_H

#include <stdint.h>

/** Are n bytes at off inside the captured caplen? (overflow-safe) */
static inline int tcpi_have(uint32_t caplen, uint32_t off, uint32_t n)
{
    return off <= caplen && n <= caplen - off;
}

static inline int tcpi_get_u8(uint8_t *v, const uint8_t *p, uint32_t caplen,
                              uint32_t off)
{
    if (!tcpi_have(caplen, off, 1))
        return -1;
    *v = p[off];
    return 0;
}

static inline int tcpi_get_be16(uint16_t *v, const uint8_t *p,
                                uint32_t caplen, uint32_t off)
{
    if (!tcpi_have(caplen, off, 2))
        return -1;
    *v = (uint16_t)(p[off] << 8 | p[off + 1]);
    return 0;
}

static inline int tcpi_get_le16(uint16_t *v, const uint8_t *p,
                                uint32_t caplen, uint32_t off)
{
    if (!tcpi_have(caplen, off, 2))
        return -1;
    *v = (uint16_t)(p[off + 1] << 8 | p[off]);
    return 0;
}

static inline int tcpi_get_be32(uint32_t *v, const uint8_t *p,
                                uint32_t caplen, uint32_t off)
{
    if (!tcpi_have(caplen, off, 4))
        return -1;
    *v = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
         (uint32_t)p[off + 2] << 8 | p[off + 3];
    return 0;
}

static inline int tcpi_get_le32(uint32_t *v, const uint8_t *p,
                                uint32_t caplen, uint32_t off)
{
    if (!tcpi_have(caplen, off, 4))
        return -1;
    *v = (uint32_t)p[off + 3] << 24 | (uint32_t)p[off + 2] << 16 |
         (uint32_t)p[off + 1] << 8 | p[off];
    return 0;
}

#endif
