/*
 * toxencryptsave check, run by ffi/tests/encryptsave.rs.
 *
 * Compiled against Debian's <tox/toxencryptsave.h> (c-toxcore 0.2.18)
 * twice: once linked against toxide's libtoxcore.so, once against
 * Debian's. Every run checks the same behaviour (so each expectation is
 * also proved to be c-toxcore's), then either seals a message into files
 * or opens the files the other build sealed:
 *
 *   encryptsave_check write <prefix>   writes <prefix>.pass (tox_pass_encrypt)
 *                                      and <prefix>.key (tox_pass_key_encrypt)
 *   encryptsave_check read <prefix>    opens both and compares the message
 *
 * Output:
 *   LIB <path>                the file tox_pass_encrypt was loaded from
 *   ENUM <tag> <sizeof>       from toxide_encryptsave_enums.h (the test
 *   CONST <name> <value>      writes it)
 *   FAIL <what>               a check that failed (exit status 1)
 *   DONE <checks> <failures>
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tox/toxencryptsave.h>

#include "check.h"


static const uint8_t message[] = "a Tox save, sealed under a passphrase";
#define MESSAGE_LEN (sizeof message)
#define SEALED_LEN (MESSAGE_LEN + TOX_PASS_ENCRYPTION_EXTRA_LENGTH)
static const uint8_t passphrase[] = "correct horse battery staple";
#define PASSPHRASE_LEN (sizeof passphrase - 1)

/* ---- sizes --------------------------------------------------------------- */

static void check_sizes(void)
{
    CHECK(tox_pass_salt_length() == TOX_PASS_SALT_LENGTH);
    CHECK(tox_pass_key_length() == TOX_PASS_KEY_LENGTH);
    CHECK(tox_pass_encryption_extra_length() == TOX_PASS_ENCRYPTION_EXTRA_LENGTH);
    CHECK(TOX_PASS_SALT_LENGTH == 32);
    CHECK(TOX_PASS_KEY_LENGTH == 32);
    CHECK(TOX_PASS_ENCRYPTION_EXTRA_LENGTH == 80);
}

/* ---- one library on its own ------------------------------------------------ */

static void check_round_trip_and_errors(void)
{
    uint8_t sealed[SEALED_LEN];
    uint8_t opened[MESSAGE_LEN];
    Tox_Err_Encryption enc = TOX_ERR_ENCRYPTION_FAILED;
    Tox_Err_Decryption dec = TOX_ERR_DECRYPTION_OK;

    CHECK(tox_pass_encrypt(message, MESSAGE_LEN, passphrase, PASSPHRASE_LEN, sealed, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_OK);
    CHECK(memcmp(sealed, "toxEsave", 8) == 0);
    CHECK(tox_is_data_encrypted(sealed));
    CHECK(!tox_is_data_encrypted(message));

    CHECK(tox_pass_decrypt(sealed, SEALED_LEN, passphrase, PASSPHRASE_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_OK);
    CHECK(memcmp(opened, message, MESSAGE_LEN) == 0);
    /* The error out-parameter may be NULL. */
    CHECK(tox_pass_decrypt(sealed, SEALED_LEN, passphrase, PASSPHRASE_LEN, opened, NULL));

    /* Wrong passphrase, altered data. */
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_decrypt(sealed, SEALED_LEN, (const uint8_t *)"wrong", 5, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_FAILED);
    uint8_t altered[SEALED_LEN];
    memcpy(altered, sealed, SEALED_LEN);
    altered[SEALED_LEN - 1] ^= 1;
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_decrypt(altered, SEALED_LEN, passphrase, PASSPHRASE_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_FAILED);

    /* Too short: not longer than the overhead, checked before anything. */
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_decrypt(sealed, TOX_PASS_ENCRYPTION_EXTRA_LENGTH, passphrase, PASSPHRASE_LEN,
                            opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_INVALID_LENGTH);
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_decrypt(NULL, 10, NULL, 0, NULL, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_INVALID_LENGTH);

    /* Not toxencryptsave data. */
    memcpy(altered, sealed, SEALED_LEN);
    altered[0] = 'X';
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_decrypt(altered, SEALED_LEN, passphrase, PASSPHRASE_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_BAD_FORMAT);
    CHECK(!tox_is_data_encrypted(altered));

    /* NULL arguments. */
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_decrypt(NULL, SEALED_LEN, passphrase, PASSPHRASE_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_NULL);
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_decrypt(sealed, SEALED_LEN, NULL, 0, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_NULL);
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_decrypt(sealed, SEALED_LEN, passphrase, PASSPHRASE_LEN, NULL, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_NULL);

    enc = TOX_ERR_ENCRYPTION_OK;
    CHECK(!tox_pass_encrypt(NULL, MESSAGE_LEN, passphrase, PASSPHRASE_LEN, sealed, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_NULL);
    enc = TOX_ERR_ENCRYPTION_OK;
    CHECK(!tox_pass_encrypt(message, 0, passphrase, PASSPHRASE_LEN, sealed, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_NULL);
    enc = TOX_ERR_ENCRYPTION_OK;
    CHECK(!tox_pass_encrypt(message, MESSAGE_LEN, NULL, 3, sealed, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_NULL);
    enc = TOX_ERR_ENCRYPTION_OK;
    CHECK(!tox_pass_encrypt(message, MESSAGE_LEN, passphrase, PASSPHRASE_LEN, NULL, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_NULL);

    /* A NULL passphrase of length 0 is the empty passphrase for encrypting. */
    enc = TOX_ERR_ENCRYPTION_FAILED;
    CHECK(tox_pass_encrypt(message, MESSAGE_LEN, NULL, 0, sealed, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_OK);
    dec = TOX_ERR_DECRYPTION_FAILED;
    CHECK(tox_pass_decrypt(sealed, SEALED_LEN, (const uint8_t *)"", 0, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_OK);
}

static void check_keys_and_salt(void)
{
    uint8_t sealed[SEALED_LEN];
    uint8_t opened[MESSAGE_LEN];
    uint8_t salt[TOX_PASS_SALT_LENGTH];
    Tox_Err_Key_Derivation kd = TOX_ERR_KEY_DERIVATION_FAILED;
    Tox_Err_Encryption enc = TOX_ERR_ENCRYPTION_FAILED;
    Tox_Err_Decryption dec = TOX_ERR_DECRYPTION_OK;
    Tox_Err_Get_Salt gs = TOX_ERR_GET_SALT_NULL;

    Tox_Pass_Key *key = tox_pass_key_derive(passphrase, PASSPHRASE_LEN, &kd);
    CHECK(key != NULL);
    CHECK(kd == TOX_ERR_KEY_DERIVATION_OK);
    CHECK(tox_pass_key_encrypt(key, message, MESSAGE_LEN, sealed, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_OK);
    CHECK(tox_pass_key_decrypt(key, sealed, SEALED_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_OK);
    CHECK(memcmp(opened, message, MESSAGE_LEN) == 0);

    /* The salt is the 32 bytes after the magic; the key it derives opens. */
    CHECK(tox_get_salt(sealed, salt, &gs));
    CHECK(gs == TOX_ERR_GET_SALT_OK);
    CHECK(memcmp(salt, sealed + 8, TOX_PASS_SALT_LENGTH) == 0);
    Tox_Pass_Key *again = tox_pass_key_derive_with_salt(passphrase, PASSPHRASE_LEN, salt, &kd);
    CHECK(again != NULL);
    CHECK(kd == TOX_ERR_KEY_DERIVATION_OK);
    dec = TOX_ERR_DECRYPTION_FAILED;
    CHECK(tox_pass_key_decrypt(again, sealed, SEALED_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_OK);
    /* ... and the passphrase opens data sealed under the key. */
    dec = TOX_ERR_DECRYPTION_FAILED;
    CHECK(tox_pass_decrypt(sealed, SEALED_LEN, passphrase, PASSPHRASE_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_OK);
    tox_pass_key_free(again);

    /* A key of another passphrase fails; short data; NULLs. */
    Tox_Pass_Key *wrong = tox_pass_key_derive_with_salt((const uint8_t *)"wrong", 5, salt, NULL);
    CHECK(wrong != NULL);
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_key_decrypt(wrong, sealed, SEALED_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_FAILED);
    tox_pass_key_free(wrong);
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_key_decrypt(key, sealed, TOX_PASS_ENCRYPTION_EXTRA_LENGTH, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_INVALID_LENGTH);
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_key_decrypt(NULL, sealed, SEALED_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_NULL);
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_key_decrypt(key, NULL, SEALED_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_NULL);
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_key_decrypt(key, sealed, SEALED_LEN, NULL, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_NULL);

    enc = TOX_ERR_ENCRYPTION_OK;
    CHECK(!tox_pass_key_encrypt(NULL, message, MESSAGE_LEN, sealed, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_NULL);
    enc = TOX_ERR_ENCRYPTION_OK;
    CHECK(!tox_pass_key_encrypt(key, NULL, MESSAGE_LEN, sealed, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_NULL);
    enc = TOX_ERR_ENCRYPTION_OK;
    CHECK(!tox_pass_key_encrypt(key, message, 0, sealed, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_NULL);
    enc = TOX_ERR_ENCRYPTION_OK;
    CHECK(!tox_pass_key_encrypt(key, message, MESSAGE_LEN, NULL, &enc));
    CHECK(enc == TOX_ERR_ENCRYPTION_NULL);

    kd = TOX_ERR_KEY_DERIVATION_OK;
    CHECK(tox_pass_key_derive(NULL, 3, &kd) == NULL);
    CHECK(kd == TOX_ERR_KEY_DERIVATION_NULL);
    kd = TOX_ERR_KEY_DERIVATION_OK;
    CHECK(tox_pass_key_derive_with_salt(passphrase, PASSPHRASE_LEN, NULL, &kd) == NULL);
    CHECK(kd == TOX_ERR_KEY_DERIVATION_NULL);
    kd = TOX_ERR_KEY_DERIVATION_OK;
    CHECK(tox_pass_key_derive_with_salt(NULL, 3, salt, &kd) == NULL);
    CHECK(kd == TOX_ERR_KEY_DERIVATION_NULL);

    gs = TOX_ERR_GET_SALT_OK;
    CHECK(!tox_get_salt(NULL, salt, &gs));
    CHECK(gs == TOX_ERR_GET_SALT_NULL);
    gs = TOX_ERR_GET_SALT_OK;
    CHECK(!tox_get_salt(sealed, NULL, &gs));
    CHECK(gs == TOX_ERR_GET_SALT_NULL);
    gs = TOX_ERR_GET_SALT_OK;
    CHECK(!tox_get_salt(message, salt, &gs));
    CHECK(gs == TOX_ERR_GET_SALT_BAD_FORMAT);

    tox_pass_key_free(key);
    tox_pass_key_free(NULL);
}

/* ---- between the two libraries ---------------------------------------------- */

static bool write_file(const char *prefix, const char *suffix, const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s", prefix, suffix);
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        return false;
    }
    bool ok = fwrite(data, 1, len, file) == len;
    return fclose(file) == 0 && ok;
}

static bool read_file(const char *prefix, const char *suffix, uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s", prefix, suffix);
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return false;
    }
    bool ok = fread(data, 1, len, file) == len && fgetc(file) == EOF;
    fclose(file);
    return ok;
}

static void seal(const char *prefix)
{
    uint8_t sealed[SEALED_LEN];
    CHECK(tox_pass_encrypt(message, MESSAGE_LEN, passphrase, PASSPHRASE_LEN, sealed, NULL));
    CHECK(write_file(prefix, ".pass", sealed, SEALED_LEN));

    Tox_Pass_Key *key = tox_pass_key_derive(passphrase, PASSPHRASE_LEN, NULL);
    CHECK(key != NULL);
    CHECK(tox_pass_key_encrypt(key, message, MESSAGE_LEN, sealed, NULL));
    CHECK(write_file(prefix, ".key", sealed, SEALED_LEN));
    tox_pass_key_free(key);
}

static void open_sealed(const char *prefix)
{
    uint8_t sealed[SEALED_LEN];
    uint8_t opened[MESSAGE_LEN];
    uint8_t salt[TOX_PASS_SALT_LENGTH];
    Tox_Err_Decryption dec;

    CHECK(read_file(prefix, ".pass", sealed, SEALED_LEN));
    CHECK(tox_is_data_encrypted(sealed));
    dec = TOX_ERR_DECRYPTION_FAILED;
    memset(opened, 0, MESSAGE_LEN);
    CHECK(tox_pass_decrypt(sealed, SEALED_LEN, passphrase, PASSPHRASE_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_OK);
    CHECK(memcmp(opened, message, MESSAGE_LEN) == 0);
    dec = TOX_ERR_DECRYPTION_OK;
    CHECK(!tox_pass_decrypt(sealed, SEALED_LEN, (const uint8_t *)"wrong", 5, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_FAILED);

    CHECK(read_file(prefix, ".key", sealed, SEALED_LEN));
    CHECK(tox_is_data_encrypted(sealed));
    CHECK(tox_get_salt(sealed, salt, NULL));
    CHECK(memcmp(salt, sealed + 8, TOX_PASS_SALT_LENGTH) == 0);
    Tox_Pass_Key *key = tox_pass_key_derive_with_salt(passphrase, PASSPHRASE_LEN, salt, NULL);
    CHECK(key != NULL);
    dec = TOX_ERR_DECRYPTION_FAILED;
    memset(opened, 0, MESSAGE_LEN);
    CHECK(tox_pass_key_decrypt(key, sealed, SEALED_LEN, opened, &dec));
    CHECK(dec == TOX_ERR_DECRYPTION_OK);
    CHECK(memcmp(opened, message, MESSAGE_LEN) == 0);
    tox_pass_key_free(key);
}

/* ---- enums --------------------------------------------------------------- */

static void print_enums(void)
{
#define TOXIDE_ENUM(tag) printf("ENUM %s %zu\n", #tag, sizeof(enum tag));
#define TOXIDE_CONST(name) printf("CONST %s %lld\n", #name, (long long)(name));
#include "toxide_encryptsave_enums.h"
#undef TOXIDE_ENUM
#undef TOXIDE_CONST
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0)) {
        fprintf(stderr, "usage: %s write|read <prefix>\n", argv[0]);
        return 2;
    }

    Dl_info info;
    if (dladdr((void *)tox_pass_encrypt, &info) != 0 && info.dli_fname != NULL) {
        printf("LIB %s\n", info.dli_fname);
    }

    check_sizes();
    check_round_trip_and_errors();
    check_keys_and_salt();
    if (strcmp(argv[1], "write") == 0) {
        seal(argv[2]);
    } else {
        open_sealed(argv[2]);
    }
    print_enums();

    printf("DONE %u %u\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
