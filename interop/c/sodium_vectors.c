/*
 * sodium_vectors: libsodium as the reference for toxide's crypto byte-agreement test.
 *
 * Written for toxide. Reads one request per line on stdin and answers with one
 * line of uppercase hex on stdout (or "ERR <reason>"):
 *
 *   box <sk> <pk> <nonce> <msg>     crypto_box_beforenm + crypto_box_easy_afternm
 *   box-open <sk> <pk> <nonce> <ct> crypto_box_beforenm + crypto_box_open_easy_afternm
 *   secretbox <key> <nonce> <msg>   crypto_secretbox_easy
 *   pk <sk>                         crypto_scalarmult_base
 *
 * All arguments are hex. The "easy" functions give the layout Tox puts on the wire:
 * the 16-byte Poly1305 tag first, then the ciphertext.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define LINE_MAX_BYTES (1 << 20)

static void out_hex(const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) printf("%02X", bytes[i]);
    putchar('\n');
    fflush(stdout);
}

static void out_err(const char *why)
{
    printf("ERR %s\n", why);
    fflush(stdout);
}

/* Decodes a hex word into a fresh buffer; NULL on bad hex. `*len` gets the byte count. */
static uint8_t *hex_word(const char *word, size_t *len)
{
    if (word == NULL) return NULL;
    size_t n = strlen(word);
    uint8_t *out = malloc(n / 2 + 1);
    if (out == NULL) return NULL;
    const char *end = NULL;
    if (sodium_hex2bin(out, n / 2 + 1, word, n, NULL, len, &end) != 0 || *end != '\0') {
        free(out);
        return NULL;
    }
    return out;
}

/* Decodes a hex word that must be exactly `want` bytes into `out`. */
static bool hex_fixed(const char *word, uint8_t *out, size_t want)
{
    size_t len = 0;
    uint8_t *bytes = hex_word(word, &len);
    bool ok = bytes != NULL && len == want;
    if (ok) memcpy(out, bytes, want);
    free(bytes);
    return ok;
}

static void do_box(bool open, char *sk_s, char *pk_s, char *nonce_s, char *data_s)
{
    uint8_t sk[crypto_box_SECRETKEYBYTES], pk[crypto_box_PUBLICKEYBYTES];
    uint8_t nonce[crypto_box_NONCEBYTES], shared[crypto_box_BEFORENMBYTES];
    size_t len = 0;
    uint8_t *data = hex_word(data_s, &len);
    if (data == NULL || !hex_fixed(sk_s, sk, sizeof sk) || !hex_fixed(pk_s, pk, sizeof pk) ||
        !hex_fixed(nonce_s, nonce, sizeof nonce)) {
        free(data);
        out_err("usage");
        return;
    }
    if (crypto_box_beforenm(shared, pk, sk) != 0) {
        free(data);
        out_err("beforenm");
        return;
    }
    if (open) {
        uint8_t *plain = malloc(len >= crypto_box_MACBYTES ? len - crypto_box_MACBYTES + 1 : 1);
        if (len < crypto_box_MACBYTES || plain == NULL ||
            crypto_box_open_easy_afternm(plain, data, len, nonce, shared) != 0) {
            out_err("forged");
        } else {
            out_hex(plain, len - crypto_box_MACBYTES);
        }
        free(plain);
    } else {
        uint8_t *cipher = malloc(len + crypto_box_MACBYTES);
        if (cipher == NULL || crypto_box_easy_afternm(cipher, data, len, nonce, shared) != 0) {
            out_err("box");
        } else {
            out_hex(cipher, len + crypto_box_MACBYTES);
        }
        free(cipher);
    }
    free(data);
}

static void do_secretbox(char *key_s, char *nonce_s, char *msg_s)
{
    uint8_t key[crypto_secretbox_KEYBYTES], nonce[crypto_secretbox_NONCEBYTES];
    size_t len = 0;
    uint8_t *msg = hex_word(msg_s, &len);
    uint8_t *cipher = msg == NULL ? NULL : malloc(len + crypto_secretbox_MACBYTES);
    if (cipher == NULL || !hex_fixed(key_s, key, sizeof key) || !hex_fixed(nonce_s, nonce, sizeof nonce) ||
        crypto_secretbox_easy(cipher, msg, len, nonce, key) != 0) {
        out_err("usage");
    } else {
        out_hex(cipher, len + crypto_secretbox_MACBYTES);
    }
    free(cipher);
    free(msg);
}

static void do_pk(char *sk_s)
{
    uint8_t sk[crypto_scalarmult_SCALARBYTES], pk[crypto_scalarmult_BYTES];
    if (!hex_fixed(sk_s, sk, sizeof sk) || crypto_scalarmult_base(pk, sk) != 0) {
        out_err("usage");
        return;
    }
    out_hex(pk, sizeof pk);
}

int main(void)
{
    if (sodium_init() < 0) {
        out_err("sodium_init");
        return 1;
    }
    char *line = malloc(LINE_MAX_BYTES);
    if (line == NULL) return 1;
    while (fgets(line, LINE_MAX_BYTES, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *save = NULL;
        char *op = strtok_r(line, " ", &save);
        char *w[4];
        for (int i = 0; i < 4; i++) w[i] = strtok_r(NULL, " ", &save);

        if (op == NULL) out_err("empty");
        else if (strcmp(op, "box") == 0) do_box(false, w[0], w[1], w[2], w[3]);
        else if (strcmp(op, "box-open") == 0) do_box(true, w[0], w[1], w[2], w[3]);
        else if (strcmp(op, "secretbox") == 0) do_secretbox(w[0], w[1], w[2]);
        else if (strcmp(op, "pk") == 0) do_pk(w[0]);
        else out_err("unknown");
    }
    free(line);
    return 0;
}
