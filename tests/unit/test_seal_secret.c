/*  test_seal_secret - the secret file: syntax, refusals, caps, permissions, generation, canary  */
#include "cf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf_mem.h"
#include "cf_seal.h"
#include "cf_test_seal.h"

/* The usage example: a secret file made once per deployment, loaded on every server. */
static void test_generate_file(void **state)
{
    (void) state;
    char dir[512], a[600], b[600], link[600];
    cf_test_tmpdir("seal_gen", dir, sizeof(dir));
    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    cf_why_t why = {""};
    assert_int_equal(cf_seal_generate_file(a, "main", &why), CF_OK);
    struct stat st;
    assert_int_equal(stat(a, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    size_t before_len = 0, after_len = 0;
    char *before = cf_test_read_file(a, &before_len);
    assert_int_equal(cf_seal_generate_file(a, "main", &why), CF_ERR_EXISTS);
    assert_non_null(strstr(why.text, a));
    char *after = cf_test_read_file(a, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len); /* untouched */
    assert_int_equal(symlink(b, link), 0);          /* dangling: still never followed */
    assert_int_equal(cf_seal_generate_file(link, "main", &why), CF_ERR_EXISTS);
    assert_int_equal(access(b, F_OK), -1);
    assert_int_equal(cf_seal_generate_file(b, "Main", &why), CF_ERR_INVALID);
    assert_int_equal(cf_seal_generate_file(b, "", &why), CF_ERR_INVALID);
    assert_int_equal(access(b, F_OK), -1);
    snprintf(link, sizeof(link), "%s/no/such/dir/secret", dir);
    assert_int_equal(cf_seal_generate_file(link, "main", &why), CF_ERR_IO);
    /* Two generated files: same id, different key bytes. */
    assert_int_equal(cf_seal_generate_file(b, "main", &why), CF_OK);
    cf_seal_t *sa = NULL, *sb = NULL;
    assert_int_equal(cf_seal_load_file(a, 0, &sa, &why), CF_OK);
    assert_int_equal(cf_seal_load_file(b, 0, &sb, &why), CF_OK);
    unsigned char *blob = NULL;
    size_t len = 0;
    cf_test_seal_seal(sa, "v", NULL, &blob, &len);
    cf_test_seal_expect_open(sb, blob, len, NULL, CF_ERR_CORRUPT, NULL);
    cf_test_seal_expect_open(sa, blob, len, NULL, CF_OK, "v");
    cf_mem_free(blob);
    free(before);
    free(after);
    cf_seal_destroy(&sa);
    cf_seal_destroy(&sb);
}

static void test_file_syntax(void **state)
{
    (void) state;
    char l1[200], l2[200], text[700];
    cf_test_seal_line(l1, sizeof(l1), "k-1", 0x11, CF_SEAL_KEY_LEN);
    cf_test_seal_line(l2, sizeof(l2), "0123456789abcdefghijklmnopqrstuv", 0x22, CF_SEAL_KEY_LEN);
    l1[strlen(l1) - 1] = '\0';
    l2[strlen(l2) - 1] = '\0';
    /* Comments, blank lines, CRLF, tabs, indentation, no final newline. */
    snprintf(text, sizeof(text), "# secret\r\n\r\n  \t\n   %s\r\n\t# old key:\n%s", l1, l2);
    cf_seal_t *seal = cf_test_seal_ring(text);
    assert_int_equal(cf_seal_key_count(seal), 2);
    assert_string_equal(cf_seal_current_id(seal), "k-1");
    assert_int_equal(cf_seal_has_id(seal, "0123456789abcdefghijklmnopqrstuv"), 1);
    assert_int_equal(cf_seal_has_id(seal, "k"), 0);
    cf_seal_destroy(&seal);
}

struct s_bad {
    const char *text; /* secret file contents */
    size_t len;       /* 0: strlen(text) */
    cf_err_t rc;      /* expected refusal */
    const char *why;  /* expected in the why */
};

static void test_malformed_secret_refused(void **state)
{
    (void) state;
    char good[200], good2[200], k16[200], k33[200], zero[200], dup[500], extra[300], badid[300],
        longid[300], v2[300], nul[300];
    cf_test_seal_line(good, sizeof(good), "k1", 0x11, CF_SEAL_KEY_LEN);
    cf_test_seal_line(good2, sizeof(good2), "k1", 0x22, CF_SEAL_KEY_LEN);
    cf_test_seal_line(k16, sizeof(k16), "k1", 0x11, 16);
    cf_test_seal_line(k33, sizeof(k33), "k1", 0x11, 33);
    cf_test_seal_line(zero, sizeof(zero), "k1", 0x00, CF_SEAL_KEY_LEN);
    snprintf(dup, sizeof(dup), "%s%s", good, good2);
    snprintf(extra, sizeof(extra), "%.*s # note\n", (int) strlen(good) - 1, good);
    snprintf(badid, sizeof(badid), "certfleet-secret-v1 K1 %s", strrchr(good, ' ') + 1);
    snprintf(longid, sizeof(longid), "certfleet-secret-v1 %s %s",
             "0123456789abcdefghijklmnopqrstuvw", strrchr(good, ' ') + 1);
    snprintf(v2, sizeof(v2), "certfleet-secret-v2 k1 %s", strrchr(good, ' ') + 1);
    snprintf(nul, sizeof(nul), "# x\n%s", good);
    nul[2] = '\0';
    char a200[201], a42[45], b64junk[300], noncanon[300];
    memset(a200, 'A', 200);
    a200[200] = '\0';
    memcpy(a42, a200, 42);
    memcpy(a42 + 42, "B=", 3); /* 32 bytes whose unused final bits are not zero */
    snprintf(b64junk, sizeof(b64junk), "certfleet-secret-v1 k1 %s\n", a200);
    snprintf(noncanon, sizeof(noncanon), "certfleet-secret-v1 k1 %s\n", a42);
    const struct s_bad bad[] = {
        {"", 0, CF_ERR_SECRET, "holds no key"},
        {"# only a comment\n\n", 0, CF_ERR_SECRET, "holds no key"},
        {"certfleet-secret-v1 k1 !!!!notbase64!!!!notbase64!!!!notbase64!!!!=\n", 0, CF_ERR_SECRET,
         "line 1: key 'k1' is not valid base64"},
        {noncanon, 0, CF_ERR_SECRET, "not valid base64"},
        {k16, 0, CF_ERR_SECRET, "line 1: key 'k1' is 16 bytes, expected 32"},
        {k33, 0, CF_ERR_SECRET, "is 33 bytes, expected 32"},
        {zero, 0, CF_ERR_SECRET, "all zeros"},
        {b64junk, 0, CF_ERR_SECRET, "too long"},
        {badid, 0, CF_ERR_SECRET, "line 1: a key id is 1 to 32 characters"},
        {longid, 0, CF_ERR_SECRET, "a key id"},
        {v2, 0, CF_ERR_SECRET, "expected \"certfleet-secret-v1 <key-id> <base64 key>\""},
        {"certfleet-secret-v1 k1\n", 0, CF_ERR_SECRET, "line 1: expected"},
        {extra, 0, CF_ERR_SECRET, "line 1: expected"},
        {dup, 0, CF_ERR_SECRET, "line 2: key id 'k1' appears twice"},
        {nul, strlen(good) + 4, CF_ERR_SECRET, "NUL byte"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cf_seal_t *seal = (cf_seal_t *) 0x1;
        cf_why_t why = {""};
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        cf_err_t rc = cf_seal_from_buffer(bad[i].text, len, &seal, &why);
        if (rc != bad[i].rc || !strstr(why.text, bad[i].why))
            fail_msg("case %zu: got %s \"%s\", expected %s \"%s\"", i, cf_err_name(rc), why.text,
                     cf_err_name(bad[i].rc), bad[i].why);
        assert_null(seal);
        assert_null(strstr(why.text, strrchr(good, ' ') + 1)); /* never the key itself */
    }
}

static void test_secret_caps(void **state)
{
    (void) state;
    char line[200];
    char *text = calloc(1, CF_SEAL_MAX_FILE + 2); /* 65 key lines take about 4 KiB */
    assert_non_null(text);
    size_t at_cap = 0;
    for (int i = 0; i <= CF_SEAL_MAX_KEYS; i++) { /* one key more than the cap */
        char id[16];
        at_cap = strlen(text);
        snprintf(id, sizeof(id), "k%d", i);
        strcat(text,
               cf_test_seal_line(line, sizeof(line), id, (unsigned char) (i + 1), CF_SEAL_KEY_LEN));
    }
    cf_seal_t *seal = NULL;
    cf_why_t why = {""};
    assert_int_equal(cf_seal_from_buffer(text, strlen(text), &seal, &why), CF_ERR_TOOBIG);
    assert_non_null(strstr(why.text, "more than 64 keys"));
    text[at_cap] = '\0'; /* exactly the cap */
    assert_int_equal(cf_seal_from_buffer(text, strlen(text), &seal, &why), CF_OK);
    assert_int_equal(cf_seal_key_count(seal), CF_SEAL_MAX_KEYS);
    cf_seal_destroy(&seal);
    memset(text, '#', CF_SEAL_MAX_FILE + 1);
    text[CF_SEAL_MAX_FILE + 1] = '\0';
    assert_int_equal(cf_seal_from_buffer(text, CF_SEAL_MAX_FILE + 1, &seal, &why), CF_ERR_TOOBIG);
    char dir[512], path[600];
    cf_test_tmpdir("seal_caps", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/big", dir);
    cf_test_write_file(path, text, CF_SEAL_MAX_FILE + 1);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_ERR_TOOBIG);
    assert_non_null(strstr(why.text, "larger than"));
    assert_null(seal);
    free(text);
}

static void test_file_permissions(void **state)
{
    (void) state;
    char dir[512], path[600], line[200];
    cf_test_tmpdir("seal_perms", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/secret", dir);
    cf_test_seal_line(line, sizeof(line), "k1", 0x11, CF_SEAL_KEY_LEN);
    cf_test_write_file(path, line, strlen(line));
    cf_seal_t *seal = NULL;
    cf_why_t why = {""};
    static const mode_t loose[] = {0644, 0640, 0604, 0620, 0602, 0660};
    for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
        assert_int_equal(chmod(path, loose[i]), 0);
        assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_ERR_SECRET);
        assert_null(seal);
        assert_non_null(strstr(why.text, "chmod 600"));
    }
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_ERR_SECRET);
    assert_non_null(strstr(why.text, "mode 0644"));
    assert_int_equal(cf_seal_load_file(path, CF_SEAL_ALLOW_LOOSE_PERMS, &seal, &why), CF_OK);
    cf_seal_destroy(&seal);
    static const mode_t tight[] = {0600, 0400};
    for (size_t i = 0; i < sizeof(tight) / sizeof(tight[0]); i++) {
        assert_int_equal(chmod(path, tight[i]), 0);
        assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_OK);
        assert_string_equal(cf_seal_current_id(seal), "k1");
        cf_seal_destroy(&seal);
    }
    assert_int_equal(cf_seal_load_file(dir, CF_SEAL_ALLOW_LOOSE_PERMS, &seal, &why), CF_ERR_SECRET);
    assert_non_null(strstr(why.text, "not a regular file"));
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(cf_seal_load_file(path, 0, &seal, &why), CF_ERR_NOTFOUND);
    assert_non_null(strstr(why.text, path));
    assert_null(seal);
}

static void test_canary(void **state)
{
    (void) state;
    cf_seal_t *mine = cf_test_seal_ring1("main", 0x11);
    cf_seal_t *other = cf_test_seal_ring1("main", 0x22); /* same id, other bytes */
    cf_seal_t *stranger = cf_test_seal_ring1("prod", 0x11);
    char *canary = NULL;
    assert_int_equal(cf_seal_make_canary(mine, &canary), CF_OK);
    size_t len = strlen(canary);
    cf_why_t why = {""};
    assert_int_equal(cf_seal_verify_canary(mine, canary, len, &why), CF_OK);
    /* The id check alone passes; the canary is what catches the other secret. */
    assert_int_equal(cf_seal_check(other, (const unsigned char *) canary, len, &why), CF_OK);
    assert_int_equal(cf_seal_verify_canary(other, canary, len, &why), CF_ERR_SECRET);
    assert_non_null(strstr(why.text, "key 'main' does not open the store's canary"));
    assert_int_equal(cf_seal_verify_canary(stranger, canary, len, &why), CF_ERR_SECRET);
    assert_non_null(strstr(why.text, "'main'"));
    assert_int_equal(cf_seal_verify_canary(mine, "hello", 5, &why), CF_ERR_CORRUPT);
    assert_int_equal(cf_seal_verify_canary(mine, canary, len - 4, &why), CF_ERR_CORRUPT);
    /* A sealed value that is not the canary does not pass as one. */
    char *text = NULL;
    assert_int_equal(cf_seal_seal_text(mine, (const unsigned char *) "certfleet seal canary v1", 24,
                                       NULL, 0, &text),
                     CF_OK);
    assert_int_not_equal(cf_seal_verify_canary(mine, text, strlen(text), &why), CF_OK);
    cf_mem_free(text);
    cf_mem_free(canary);
    cf_seal_destroy(&mine);
    cf_seal_destroy(&other);
    cf_seal_destroy(&stranger);
}

/* Fail allocation 0, 1, 2, ... of one call until it succeeds; each failure must be a clean
   CF_ERR_NOMEM with the outputs NULL (ASan checks nothing leaks). */
static void test_allocation_failures(void **state)
{
    (void) state;
    char line[200], dir[512], path[600];
    cf_test_seal_line(line, sizeof(line), "k1", 0x11, CF_SEAL_KEY_LEN);
    cf_test_tmpdir("seal_alloc", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/secret", dir);
    cf_test_write_file(path, line, strlen(line));
    assert_int_equal(chmod(path, 0600), 0);
    cf_seal_t *seal = cf_test_seal_ring(line);
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    char *text = NULL;
    cf_test_seal_seal(seal, "secret value", CF_TEST_SEAL_CTX, &blob, &blob_len);
    assert_int_equal(cf_seal_seal_text(seal, (const unsigned char *) "v", 1, NULL, 0, &text),
                     CF_OK);
    for (int which = 0; which < 5; which++) {
        long n = 0;
        for (;; n++) {
            cf_seal_t *ring = NULL;
            unsigned char *out = NULL;
            size_t out_len = 0;
            char *out_text = NULL;
            cf_err_t rc;
            cf_test_alloc_fail_at(n);
            switch (which) {
            case 0: rc = cf_seal_from_buffer(line, strlen(line), &ring, NULL); break;
            case 1: rc = cf_seal_load_file(path, 0, &ring, NULL); break;
            case 2:
                rc = cf_seal_open(seal, blob, blob_len, (const unsigned char *) CF_TEST_SEAL_CTX,
                                  CF_TEST_SEAL_CTX_LEN, &out, &out_len, NULL);
                break;
            case 3:
                rc = cf_seal_open_text(seal, text, strlen(text), NULL, 0, &out, &out_len, NULL);
                break;
            default:
                rc = cf_seal_seal_text(seal, (const unsigned char *) "v", 1, NULL, 0, &out_text);
                break;
            }
            long failed = cf_test_alloc_failed();
            cf_test_alloc_fail_at(-1);
            cf_seal_destroy(&ring);
            cf_mem_free_secret(out, out_len);
            cf_mem_free(out_text);
            if (!failed) {
                assert_int_equal(rc, CF_OK);
                break;
            }
            assert_int_equal(rc, CF_ERR_NOMEM);
            assert_null(ring);
            assert_null(out);
            assert_null(out_text);
        }
        assert_true(n >= 1); /* every path allocates at least once */
    }
    cf_mem_free(text);
    cf_mem_free(blob);
    cf_seal_destroy(&seal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_file),
        cmocka_unit_test(test_file_syntax),
        cmocka_unit_test(test_malformed_secret_refused),
        cmocka_unit_test(test_secret_caps),
        cmocka_unit_test(test_file_permissions),
        cmocka_unit_test(test_canary),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
