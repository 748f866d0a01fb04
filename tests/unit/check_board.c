/*
 * check_board.c - the board writer (runtime/common_board.c, docs/board.md):
 * it finds runs and sweeps in name order below a directory, skipping hidden
 * ones; no file's text can end the page's <script>; figures become data:
 * URLs; every line the template names is replaced; a live board says how
 * often it reloads; a board it cannot write is an error naming the file.
 * The page itself is checked in a browser by tests/e2e/board.sh.
 *
 * The template and the library are those make installed beside the
 * runtime (nnrt_board_assets finds them where the runtime was built).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnrt_board.h"

static char root[256];

static void put(const char *name, const char *text)
{
    char path[512], cmd[600];
    snprintf(path, sizeof path, "%s/%s", root, name);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    ck_assert_int_eq(system(cmd), 0);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A fresh directory of runs: a and b, a sweep with one run, a hidden run */
static void make_runs(void)
{
    char cmd[300];
    snprintf(root, sizeof root, "%s/check_board_%ld",
             access("tests/out", W_OK) == 0 ? "tests/out" : "/tmp", (long)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
    put("b/metrics.csv", "epoch,step,loss,lr\n0,0,0.5,0.1\n");
    put("a/metrics.csv", "epoch,step,loss,lr\n0,0,0.7,0.1\n1,4,0.6,0.1\n");
    put("a/config.json", "{\"model\": \"x</script><b>\\\"q\\\"\"}\n");
    put("a/curves.png", "abc");
    put("sw/sweep.json", "{\"configs\": []}\n");
    put("sw/runs/c00/seed1/metrics.csv", "epoch,step,loss,lr\n");
    put(".hidden/metrics.csv", "epoch\n");
}

/* The board over root, written with refresh, as a string */
static char *board(int refresh)
{
    char out[300];
    NnrtErr e;
    const char *dirs[] = {root};
    snprintf(out, sizeof out, "%s/board.html", root);
    int rc = nnrt_board_write(out, dirs, 1, refresh, &e);
    ck_assert_msg(rc == 0, "nnrt_board_write failed: %s", e.msg);
    FILE *f = fopen(out, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *text = malloc((size_t)n + 1);
    ck_assert_int_eq((long)fread(text, 1, (size_t)n, f), n);
    text[n] = '\0';
    fclose(f);
    return text;
}

START_TEST(runs_and_sweeps_are_found_in_order)
{
    make_runs();
    char *html = board(0);
    const char *a = strstr(html, "{\"path\": \"a\"");
    const char *b = strstr(html, "{\"path\": \"b\"");
    const char *run = strstr(html, "{\"path\": \"sw/runs/c00/seed1\"");
    const char *sweeps = strstr(html, "\"sweeps\": [");
    ck_assert_msg(a && b && run && a < b && b < run, "runs a, b, sw/runs/c00/seed1 not all there in order");
    ck_assert_msg(sweeps && strstr(sweeps, "{\"path\": \"sw\""), "the sweep sw is not among the sweeps");
    ck_assert_msg(!strstr(html, "\"path\": \".hidden"), "a hidden directory's run is on the board");
    ck_assert_msg(strstr(html, "\"metrics\": \"epoch,step,loss,lr\\n0,0,0.7,0.1\\n1,4,0.6,0.1\\n\""),
                  "a's metrics.csv is not on the board as a JSON string");
    ck_assert_msg(strstr(b, "\"config\": null"), "b has no config.json, but not null");
    free(html);
}
END_TEST

START_TEST(text_cannot_end_the_script)
{
    make_runs();
    char *html = board(0);
    ck_assert_msg(!strstr(html, "x</script>"), "config.json's </script> is in the page as it was");
    ck_assert_msg(strstr(html, "x\\u003c/script>\\u003cb>\\\\\\\"q\\\\\\\""),
                  "config.json's text is not escaped as expected");
    free(html);
}
END_TEST

START_TEST(figures_become_data_urls)
{
    make_runs();
    char *html = board(0);
    ck_assert_msg(strstr(html, "{\"name\": \"curves.png\", \"src\": \"data:image/png;base64,YWJj\"}"),
                  "a/curves.png is not a data: URL");
    free(html);
}
END_TEST

START_TEST(the_template_is_filled_in)
{
    make_runs();
    char *html = board(0);
    ck_assert_msg(!strstr(html, "\n<!--@"), "a line of the template naming a file is left");
    ck_assert_msg(strstr(html, "echarts"), "the charting library is not in the page");
    ck_assert_msg(strstr(html, "Apache License"), "the library's licence is not in the page");
    ck_assert_msg(strstr(html, "const BOARD = {"), "the data is not in the page");
    free(html);
}
END_TEST

START_TEST(live_boards_say_how_often_they_reload)
{
    make_runs();
    char *html = board(0);
    ck_assert_msg(strstr(html, "\"refresh\": 0,"), "a final board reloads");
    free(html);
    html = board(NNRT_BOARD_SECONDS);
    ck_assert_msg(strstr(html, "\"refresh\": 3,"), "a live board does not say it reloads every 3 s");
    free(html);
}
END_TEST

START_TEST(an_unwritable_board_is_an_error)
{
    make_runs();
    NnrtErr e;
    const char *dirs[] = {root};
    ck_assert_int_ne(nnrt_board_write("/nonexistent/dir/board.html", dirs, 1, 0, &e), 0);
    ck_assert_msg(strstr(e.msg, "/nonexistent/dir/board.html.part"), "the error names no file: %s", e.msg);
}
END_TEST

static Suite *board_suite(void)
{
    Suite *s = suite_create("board");
    TCase *tc = tcase_create("board");
    tcase_add_test(tc, runs_and_sweeps_are_found_in_order);
    tcase_add_test(tc, text_cannot_end_the_script);
    tcase_add_test(tc, figures_become_data_urls);
    tcase_add_test(tc, the_template_is_filled_in);
    tcase_add_test(tc, live_boards_say_how_often_they_reload);
    tcase_add_test(tc, an_unwritable_board_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(board_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
