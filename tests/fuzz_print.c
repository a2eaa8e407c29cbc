/* libFuzzer target for the printer (plain, -X, redacted). Input: one byte
 * choosing the link type, one byte of extra wire length, then frames
 * separated by the 4 bytes "FRM|" so one run exercises the per-connection
 * relative-sequence state and the redaction state across packets. */
#include "print/tcpi_print.h"
#include "decode/tcpi_redact.h"

#include <stdlib.h>
#include <string.h>

static const int32_t links[] = {
    TCPI_LINKTYPE_EN10MB, TCPI_LINKTYPE_LINUX_SLL, TCPI_LINKTYPE_LINUX_SLL2,
    TCPI_LINKTYPE_NULL, TCPI_LINKTYPE_LOOP, TCPI_LINKTYPE_RAW,
    TCPI_LINKTYPE_IPV4, TCPI_LINKTYPE_IPV6,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tcpi_redact_t rd;
    tcpi_print_t st;

    if (size < 2)
        return 0;
    int32_t lt = links[data[0] % (sizeof(links) / sizeof(links[0]))];
    uint32_t extra = data[1];
    tcpi_redact_init(&rd, tcpi_redact_defaults, 4);
    tcpi_print_init(&st);
    const uint8_t *p = data + 2, *end = data + size;
    for (int round = 0; round < 2; round++) {
        st.redact = round ? &rd : NULL;
        for (const uint8_t *q = p; q <= end;) {
            const uint8_t *sep = memmem(q, (size_t)(end - q), "FRM|", 4);
            size_t n = (size_t)((sep ? sep : end) - q);
            uint8_t *f = malloc(n ? n : 1);     /* exact size for ASan */
            memcpy(f, q, n);
            tcpi_print_packet(&st, 1, 2, lt, f, (uint32_t)n,
                              (uint32_t)n + extra, round ? TCPI_PRINT_HEX : 0);
            free(f);
            if (!sep)
                break;
            q = sep + 4;
        }
        if (memchr(st.out, 0, st.out_len) && !st.redact) {
            /* text may carry payload bytes (HTTP line): fine; nothing to
             * check beyond not crashing */
        }
        tcpi_print_clear(&st);
    }
    tcpi_print_free(&st);
    return 0;
}
