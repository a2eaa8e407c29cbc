/* fuzz_tlsrec.c — any bytes as a TCP segment's payload: the TLS record
 * describer reads within them and always terminates its text. */
#include "decode/tcpi_tlsrec.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[TCPI_TLSREC_TEXT_MAX];
    size_t cap, n;

    if (size == 0)
        return 0;
    /* The first byte sizes the text buffer; the rest is the payload. */
    cap = 1 + data[0] % sizeof(text);
    n = tcpi_tlsrec_describe(text, cap, data + 1, size - 1);

    if (n != strlen(text) || n >= cap)
        abort();
    return 0;
}
