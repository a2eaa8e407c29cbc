/* Common includes for the cmocka unit tests (one file per core unit). */
#ifndef TCPI_TEST_H
#define TCPI_TEST_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

/* Ethernet + IPv4 127.0.0.1 -> 127.0.0.1 + TCP (seq 1, win 65535, no
 * options, ACK or PSH|ACK) + `payload` bytes a..z: 54 + payload bytes. */
static inline uint32_t tcpi_test_frame(uint8_t *p, uint16_t sport, uint16_t dport,
                                       uint32_t payload)
{
    uint32_t iplen = 40 + payload;
    memset(p, 0, 54 + payload);
    p[12] = 0x08;
    p[14] = 0x45; p[16] = (uint8_t)(iplen >> 8); p[17] = (uint8_t)iplen;
    p[22] = 64; p[23] = 6;
    p[26] = 127; p[29] = 1; p[30] = 127; p[33] = 1;
    p[34] = (uint8_t)(sport >> 8); p[35] = (uint8_t)sport;
    p[36] = (uint8_t)(dport >> 8); p[37] = (uint8_t)dport;
    p[41] = 1;                                  /* seq 1 */
    p[46] = 0x50; p[47] = payload ? 0x18 : 0x10;
    p[48] = 0xff; p[49] = 0xff;                 /* win 65535 */
    for (uint32_t i = 0; i < payload; i++)
        p[54 + i] = (uint8_t)('a' + i % 26);
    return 54 + payload;
}
#include <unistd.h>

/* Check a JSON document with python3's json module, an independent
 * parser: expr is a Python expression over the parsed document d.
 * Returns the exit status (0: parsed and expr was true). */
static inline int tcpi_py_json(const char *json, const char *expr)
{
    char path[] = "/tmp/tcpi-json-XXXXXX", cmd[128];
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    /* The document after a marker line, the check before it. */
    fprintf(f, "import json,sys\nd=json.loads(open(sys.argv[1]).read().split('\\n#JSON\\n',1)[1])\n"
            "sys.exit(0 if (%s) else 1)\n#JSON\n%s", expr, json);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "python3 %s %s", path, path);
    int rc = system(cmd);
    unlink(path);
    return rc;
}
#endif
