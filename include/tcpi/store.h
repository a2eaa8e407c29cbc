/*
 * tcpi/store.h — the store stage (src/store/):
 * storage primitives in shared memory that drop and count instead of
 * blocking: the packet ring (one writer, seqlocked records), the request log
 * (every MPM child writes it; every reader checks each record) and the
 * capture worker's one reader of it, and the region's two mappings split
 * by writer.
 *
 * The one header other stages and the httpd glue include for it; the
 * stage's other headers are its own (tests/check_layers.sh).
 */
#ifndef TCPI_STAGE_STORE_H
#define TCPI_STAGE_STORE_H

#include "store/tcpi_reqlog.h"
#include "store/tcpi_ring.h"
#include "store/tcpi_shmmap.h"

#endif
