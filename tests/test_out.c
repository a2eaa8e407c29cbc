/* Unit tests for the output escapers: well-formed UTF-8 from the wire is
 * shown as its characters, everything else as U+FFFD, and what HTML and
 * JSON give meaning to is escaped. */
#include "tcpi_test.h"
#include "common/tcpi_out.h"

static char *html(const char *in, size_t n)
{
    tcpi_membuf_t m = { 0 };
    tcpi_out_t o;

    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    tcpi_out_html(&o, in, n);
    tcpi_out_flush(&o);
    return m.data ? m.data : strdup("");
}

static char *json(const char *in, size_t n)
{
    tcpi_membuf_t m = { 0 };
    tcpi_out_t o;

    tcpi_out_init(&o, tcpi_membuf_sink, &m);
    tcpi_out_json_str(&o, in, n);
    tcpi_out_flush(&o);
    return m.data;
}

#define CHECK_HTML(in, want) do { char *g = html(in, sizeof(in) - 1); \
    assert_string_equal(g, want); free(g); } while (0)
#define CHECK_JSON(in, want) do { char *g = json(in, sizeof(in) - 1); \
    assert_string_equal(g, want); \
    assert_int_equal(tcpi_py_json(g, "isinstance(d, str)"), 0); free(g); } while (0)

static void test_html(void **state)
{
    CHECK_HTML("/caf\xc3\xa9?q=\xe2\x82\xac", "/caf\xc3\xa9?q=\xe2\x82\xac");
    CHECK_HTML("<a href='x'>&\"", "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
    CHECK_HTML("\xe9t\xe9", "&#xfffd;t&#xfffd;");          /* Latin-1 bytes */
    CHECK_HTML("\xc0\xaf", "&#xfffd;&#xfffd;");            /* overlong '/' */
    CHECK_HTML("\xed\xa0\x80", "&#xfffd;&#xfffd;&#xfffd;"); /* a surrogate */
    CHECK_HTML("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");     /* U+1F600 */
    CHECK_HTML("\xf4\x90\x80\x80", "&#xfffd;&#xfffd;&#xfffd;&#xfffd;");
    CHECK_HTML("a\xe2\x80\xae" "b", "a&#xfffd;b");             /* bidi override */
    CHECK_HTML("\x01\x7f\xc2\x85", "&#xfffd;&#xfffd;&#xfffd;");
    CHECK_HTML("\xe2\x82", "&#xfffd;&#xfffd;");             /* cut short */
}

static void test_json(void **state)
{
    CHECK_JSON("/caf\xc3\xa9", "\"/caf\xc3\xa9\"");
    CHECK_JSON("a\"b\\c\n", "\"a\\\"b\\\\c\\u000a\"");
    CHECK_JSON("\xe9", "\"\\ufffd\"");
    CHECK_JSON("\xe2\x80\xae", "\"\\ufffd\"");
    CHECK_JSON("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
