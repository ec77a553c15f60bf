/*
 * tox_peer: one c-toxcore instance driven line by line, for toxide's interop tests.
 *
 * Written for toxide against the public <tox/tox.h> API only. The Rust side
 * (interop/src/peer.rs) starts this program, writes commands to its stdin and
 * reads replies and events from its stdout. Every output line is flushed at once.
 *
 *   tox_peer --port N [--savedata FILE] [--tcp-port N] [--no-udp]
 *            [--recv-dir DIR] [--manual-files] [--loop-cap MS] [--local-discovery]
 *
 * Incoming files are accepted at once unless --manual-files is given; then
 * the test accepts, seeks or cancels them with file-control / file-seek.
 * With --recv-dir they are written there, at the positions the chunks
 * carry; with --manual-files into an existing file of the same name if
 * there is one (so a test can resume a half-received file by seeking).
 * c-toxcore drops a friend's transfers without a callback when the friend
 * goes offline; tox_peer then reports each one it tracked as FILE_BROKEN.
 *
 * LAN discovery is off unless --local-discovery is given. With it c-toxcore
 * broadcasts to every interface's broadcast address, so the Rust side passes
 * it only to a peer it runs inside a network namespace of its own.
 *
 * Output lines:
 *   READY <tox-id-hex> <dht-pk-hex> <udp-port>   once, after start-up
 *   OK [values...]                               reply to the current command
 *   ERR <command> <code>                         reply: tox error code or a word
 *   FATAL <what> <code>                          start-up failed; the program exits
 *   <EVENT> <fields...>                          callbacks, see interop/src/event.rs
 *
 * Free text (messages, names, file names, paths) is the last field of a line and
 * is escaped: backslash as \\, control bytes as \n, \r, \t or \xHH. Commands
 * accept the same escapes in their text argument.
 *
 * Besides the Tox calls, pass-encrypt / pass-decrypt run toxencryptsave's
 * tox_pass_encrypt / tox_pass_decrypt on hex arguments (passphrase "-" is the
 * empty one), so the Rust side can check byte compatibility with this library.
 */

#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <tox/tox.h>
#include <tox/toxencryptsave.h>

/* Room for a hex-encoded save (pass-encrypt / pass-decrypt). */
#define LINE_MAX_BYTES 65536
#define MAX_TRANSFERS 64

/* ---------------------------------------------------------------- output */

static void out_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Writes `fmt` (no newline), then escaped bytes as the last field, then the newline. */
static void out_line_text(const uint8_t *text, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = text[i];
        switch (c) {
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fprintf(stdout, "\\x%02x", c);
            } else {
                fputc(c, stdout);
            }
        }
    }
    fputc('\n', stdout);
    fflush(stdout);
}

static void out_hex(const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        fprintf(stdout, "%02X", bytes[i]);
    }
}

static const char *connection_name(Tox_Connection c)
{
    switch (c) {
    case TOX_CONNECTION_TCP: return "tcp";
    case TOX_CONNECTION_UDP: return "udp";
    default: return "none";
    }
}

/* ---------------------------------------------------------------- parsing */

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes exactly `len` bytes from 2*len hex digits; false on any other input. */
static bool hex_decode(const char *hex, uint8_t *out, size_t len)
{
    if (hex == NULL || strlen(hex) != 2 * len) return false;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_nibble(hex[2 * i]);
        int lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* Decodes a hex word of any even length into a fresh buffer (at least one byte
 * allocated); NULL on bad hex. "-" is the empty string. */
static uint8_t *hex_decode_alloc(const char *hex, size_t *len)
{
    if (hex == NULL) return NULL;
    size_t n = strcmp(hex, "-") == 0 ? 0 : strlen(hex);
    if (n % 2 != 0) return NULL;
    uint8_t *out = malloc(n / 2 + 1);
    if (out == NULL) return NULL;
    if (!hex_decode(n == 0 ? "" : hex, out, n / 2)) {
        free(out);
        return NULL;
    }
    *len = n / 2;
    return out;
}

/* Undoes the output escaping in place; returns the decoded length. */
static size_t unescape(char *text)
{
    size_t r = 0, w = 0;
    while (text[r] != '\0') {
        char c = text[r++];
        if (c != '\\' || text[r] == '\0') {
            text[w++] = c;
            continue;
        }
        char e = text[r++];
        switch (e) {
        case 'n': text[w++] = '\n'; break;
        case 'r': text[w++] = '\r'; break;
        case 't': text[w++] = '\t'; break;
        case 'x': {
            int hi = hex_nibble(text[r]);
            int lo = hi < 0 ? -1 : hex_nibble(text[r + 1]);
            if (lo < 0) {
                text[w++] = 'x';
            } else {
                text[w++] = (char)(hi << 4 | lo);
                r += 2;
            }
            break;
        }
        default: text[w++] = e; break;
        }
    }
    return w;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0' || s[0] == '-') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *out = (uint64_t)v;
    return true;
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    if (s == NULL || *s == '\0') return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max || s[0] == '-') return false;
    *out = (uint32_t)v;
    return true;
}

/* Splits off the next space-separated word; NULL when none is left. */
static char *next_word(char **cursor)
{
    char *p = *cursor;
    while (*p == ' ') p++;
    if (*p == '\0') {
        *cursor = p;
        return NULL;
    }
    char *word = p;
    while (*p != '\0' && *p != ' ') p++;
    if (*p == ' ') *p++ = '\0';
    *cursor = p;
    return word;
}

/* ---------------------------------------------------------------- files */

struct transfer {
    bool used;
    bool incoming;
    uint32_t friend_number;
    uint32_t file_number;
    uint64_t size; /* UINT64_MAX: a stream */
    uint64_t done_bytes; /* received, or (sending) the end of the furthest chunk handed over */
    FILE *fp; /* NULL for an incoming transfer without --recv-dir: bytes are counted only */
    char path[4096];
};

static struct transfer transfers[MAX_TRANSFERS];
static const char *recv_dir = NULL;
static bool manual_files = false;

static struct transfer *transfer_find(bool incoming, uint32_t friend_number, uint32_t file_number)
{
    for (int i = 0; i < MAX_TRANSFERS; i++) {
        struct transfer *t = &transfers[i];
        if (t->used && t->incoming == incoming && t->friend_number == friend_number &&
            t->file_number == file_number) {
            return t;
        }
    }
    return NULL;
}

static struct transfer *transfer_new(bool incoming, uint32_t friend_number, uint32_t file_number)
{
    for (int i = 0; i < MAX_TRANSFERS; i++) {
        struct transfer *t = &transfers[i];
        if (!t->used) {
            memset(t, 0, sizeof *t);
            t->used = true;
            t->incoming = incoming;
            t->friend_number = friend_number;
            t->file_number = file_number;
            return t;
        }
    }
    return NULL;
}

static void transfer_free(struct transfer *t)
{
    if (t->fp != NULL) fclose(t->fp);
    t->fp = NULL;
    t->used = false;
}

/* ---------------------------------------------------------------- callbacks */

static void on_self_connection(Tox *tox, Tox_Connection status, void *ud)
{
    (void)tox; (void)ud;
    out_line("SELF_CONNECTION %s", connection_name(status));
}

static void on_friend_request(Tox *tox, const uint8_t *pk, const uint8_t *msg, size_t len, void *ud)
{
    (void)tox; (void)ud;
    fputs("FRIEND_REQUEST ", stdout);
    out_hex(pk, TOX_PUBLIC_KEY_SIZE);
    out_line_text(msg, len, " ");
}

/* c-toxcore drops a friend's transfers without a callback when the friend
 * goes offline (they are gone by the time this callback runs): each one
 * tracked here is reported as FILE_BROKEN with the bytes it had moved, and
 * forgotten. A partly received file stays in recv_dir. */
static void on_friend_connection(Tox *tox, uint32_t friend_number, Tox_Connection status, void *ud)
{
    (void)tox; (void)ud;
    out_line("FRIEND_CONNECTION %u %s", friend_number, connection_name(status));
    if (status != TOX_CONNECTION_NONE) return;
    for (int i = 0; i < MAX_TRANSFERS; i++) {
        struct transfer *t = &transfers[i];
        if (!t->used || t->friend_number != friend_number) continue;
        out_line("FILE_BROKEN %u %u %s %llu", friend_number, t->file_number, t->incoming ? "recv" : "send",
                 (unsigned long long)t->done_bytes);
        transfer_free(t);
    }
}

static void on_friend_message(Tox *tox, uint32_t friend_number, Tox_Message_Type type, const uint8_t *msg,
                              size_t len, void *ud)
{
    (void)tox; (void)ud;
    const char *kind = type == TOX_MESSAGE_TYPE_ACTION ? "ACTION" : "MESSAGE";
    out_line_text(msg, len, "%s %u ", kind, friend_number);
}

static void on_friend_name(Tox *tox, uint32_t friend_number, const uint8_t *name, size_t len, void *ud)
{
    (void)tox; (void)ud;
    out_line_text(name, len, "FRIEND_NAME %u ", friend_number);
}

static void on_friend_status_message(Tox *tox, uint32_t friend_number, const uint8_t *text, size_t len,
                                     void *ud)
{
    (void)tox; (void)ud;
    out_line_text(text, len, "FRIEND_STATUS_MESSAGE %u ", friend_number);
}

/* User status as tox.h numbers it: 0 none (available), 1 away, 2 busy. */
static void on_friend_status(Tox *tox, uint32_t friend_number, Tox_User_Status status, void *ud)
{
    (void)tox; (void)ud;
    out_line("FRIEND_STATUS %u %d", friend_number, (int)status);
}

static void on_friend_typing(Tox *tox, uint32_t friend_number, bool typing, void *ud)
{
    (void)tox; (void)ud;
    out_line("FRIEND_TYPING %u %d", friend_number, typing ? 1 : 0);
}

/* Custom lossless packets (ids 160-191): printed as LOSSLESS <friend> <hex>, id first. */
static void on_friend_lossless(Tox *tox, uint32_t friend_number, const uint8_t *data, size_t len, void *ud)
{
    (void)tox; (void)ud;
    printf("LOSSLESS %u ", friend_number);
    out_hex(data, len);
    out_line("%s", "");
}

static void on_read_receipt(Tox *tox, uint32_t friend_number, uint32_t message_id, void *ud)
{
    (void)tox; (void)ud;
    out_line("RECEIPT %u %u", friend_number, message_id);
}

/* Makes a received file name safe to use inside recv_dir. */
static void safe_file_name(const uint8_t *name, size_t len, uint32_t friend_number, uint32_t file_number,
                           char *out, size_t out_size)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < out_size && n < 200; i++) {
        uint8_t c = name[i];
        out[n++] = (c < 0x20 || c == '/' || c == '\\' || c == 0x7f) ? '_' : (char)c;
    }
    out[n] = '\0';
    if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
        snprintf(out, out_size, "file-%u-%u", friend_number, file_number);
    }
}

static void on_file_recv(Tox *tox, uint32_t friend_number, uint32_t file_number, uint32_t kind,
                         uint64_t file_size, const uint8_t *name, size_t len, void *ud)
{
    (void)ud;
    out_line_text(name, len, "FILE_RECV %u %u %llu ", friend_number, file_number,
                  (unsigned long long)file_size);
    uint8_t file_id[TOX_FILE_ID_LENGTH];
    if (tox_file_get_file_id(tox, friend_number, file_number, file_id, NULL)) {
        fprintf(stdout, "FILE_META %u %u %u ", friend_number, file_number, kind);
        out_hex(file_id, sizeof file_id);
        out_line("%s", "");
    }

    struct transfer *t = transfer_new(true, friend_number, file_number);
    if (t == NULL) {
        out_line("FILE_ERROR %u %u too-many-transfers", friend_number, file_number);
        tox_file_control(tox, friend_number, file_number, TOX_FILE_CONTROL_CANCEL, NULL);
        return;
    }
    t->size = file_size;
    if (recv_dir != NULL) {
        char safe[256];
        safe_file_name(name, len, friend_number, file_number, safe, sizeof safe);
        snprintf(t->path, sizeof t->path, "%s/%s", recv_dir, safe);
        t->fp = manual_files ? fopen(t->path, "r+b") : NULL;
        if (t->fp == NULL) t->fp = fopen(t->path, "wb");
        if (t->fp == NULL) {
            out_line("FILE_ERROR %u %u open-failed", friend_number, file_number);
            tox_file_control(tox, friend_number, file_number, TOX_FILE_CONTROL_CANCEL, NULL);
            transfer_free(t);
            return;
        }
    } else {
        snprintf(t->path, sizeof t->path, "-");
    }
    if (manual_files) return;

    Tox_Err_File_Control err;
    if (!tox_file_control(tox, friend_number, file_number, TOX_FILE_CONTROL_RESUME, &err)) {
        out_line("FILE_ERROR %u %u resume-failed-%d", friend_number, file_number, (int)err);
        transfer_free(t);
    }
}

static void on_file_recv_chunk(Tox *tox, uint32_t friend_number, uint32_t file_number, uint64_t position,
                               const uint8_t *data, size_t len, void *ud)
{
    (void)tox; (void)ud;
    struct transfer *t = transfer_find(true, friend_number, file_number);
    if (t == NULL) return;

    if (len == 0) {
        /* Close before reporting so the reader sees the complete file. */
        if (t->fp != NULL && fclose(t->fp) != 0) {
            out_line("FILE_ERROR %u %u close-failed", friend_number, file_number);
        }
        t->fp = NULL;
        out_line_text((const uint8_t *)t->path, strlen(t->path), "FILE_DONE %u %u %llu ", friend_number,
                      file_number, (unsigned long long)t->done_bytes);
        transfer_free(t);
        return;
    }
    if (t->fp != NULL) {
        if (fseeko(t->fp, (off_t)position, SEEK_SET) != 0 || fwrite(data, 1, len, t->fp) != len) {
            out_line("FILE_ERROR %u %u write-failed", friend_number, file_number);
        }
    }
    t->done_bytes += len;
}

static void on_file_chunk_request(Tox *tox, uint32_t friend_number, uint32_t file_number, uint64_t position,
                                  size_t len, void *ud)
{
    (void)ud;
    struct transfer *t = transfer_find(false, friend_number, file_number);
    if (t == NULL) return;

    if (len == 0) {
        out_line("FILE_SENT %u %u", friend_number, file_number);
        transfer_free(t);
        return;
    }
    static uint8_t buf[65536];
    if (len > sizeof buf || fseeko(t->fp, (off_t)position, SEEK_SET) != 0) {
        out_line("FILE_ERROR %u %u read-failed", friend_number, file_number);
        return;
    }
    size_t got = fread(buf, 1, len, t->fp);
    /* A stream ends with a short chunk (an empty one at a whole-chunk end). */
    if (got != len && (t->size != UINT64_MAX || ferror(t->fp))) {
        out_line("FILE_ERROR %u %u read-failed", friend_number, file_number);
        return;
    }
    len = got;
    Tox_Err_File_Send_Chunk err;
    if (!tox_file_send_chunk(tox, friend_number, file_number, position, buf, len, &err)) {
        out_line("FILE_ERROR %u %u send-chunk-%d", friend_number, file_number, (int)err);
    } else if (position + len > t->done_bytes) {
        t->done_bytes = position + len;
    }
}

static void on_file_recv_control(Tox *tox, uint32_t friend_number, uint32_t file_number,
                                 Tox_File_Control control, void *ud)
{
    (void)tox; (void)ud;
    const char *name = control == TOX_FILE_CONTROL_RESUME  ? "resume"
                       : control == TOX_FILE_CONTROL_PAUSE ? "pause"
                                                           : "cancel";
    out_line("FILE_CONTROL %u %u %s", friend_number, file_number, name);
    if (control == TOX_FILE_CONTROL_CANCEL) {
        struct transfer *t = transfer_find(false, friend_number, file_number);
        if (t == NULL) t = transfer_find(true, friend_number, file_number);
        if (t != NULL) transfer_free(t);
    }
}

static void on_conference_invite(Tox *tox, uint32_t friend_number, Tox_Conference_Type type,
                                 const uint8_t *cookie, size_t len, void *ud)
{
    (void)ud;
    fprintf(stdout, "CONFERENCE_INVITE %u %s ", friend_number, type == TOX_CONFERENCE_TYPE_AV ? "av" : "text");
    out_hex(cookie, len);
    out_line("%s", "");

    if (type != TOX_CONFERENCE_TYPE_TEXT) return;
    Tox_Err_Conference_Join err;
    uint32_t conf = tox_conference_join(tox, friend_number, cookie, len, &err);
    if (err == TOX_ERR_CONFERENCE_JOIN_OK) {
        out_line("CONFERENCE_JOINED %u %u", conf, friend_number);
    } else {
        out_line("CONFERENCE_JOIN_FAILED %u %d", friend_number, (int)err);
    }
}

static void on_conference_connected(Tox *tox, uint32_t conf, void *ud)
{
    (void)tox; (void)ud;
    out_line("CONFERENCE_CONNECTED %u", conf);
}

static void on_conference_message(Tox *tox, uint32_t conf, uint32_t peer, Tox_Message_Type type,
                                  const uint8_t *msg, size_t len, void *ud)
{
    (void)tox; (void)ud; (void)type;
    out_line_text(msg, len, "CONFERENCE_MESSAGE %u %u ", conf, peer);
}

static void on_conference_title(Tox *tox, uint32_t conf, uint32_t peer, const uint8_t *title, size_t len,
                                void *ud)
{
    (void)tox; (void)ud;
    out_line_text(title, len, "CONFERENCE_TITLE %u %u ", conf, peer);
}

static void on_conference_peer_name(Tox *tox, uint32_t conf, uint32_t peer, const uint8_t *name, size_t len,
                                    void *ud)
{
    (void)tox; (void)ud;
    out_line_text(name, len, "CONFERENCE_PEER_NAME %u %u ", conf, peer);
}

static void on_conference_peers(Tox *tox, uint32_t conf, void *ud)
{
    (void)ud;
    uint32_t count = tox_conference_peer_count(tox, conf, NULL);
    out_line("CONFERENCE_PEERS %u %u", conf, count);
}

/* ---------------------------------------------------------------- commands */

static bool quit_requested = false;

/* Sends the reply for the outcome of a tox call that reports through `err`. */
#define REPLY_ERR(cmd, err) out_line("ERR %s %d", (cmd), (int)(err))

static void cmd_bootstrap(Tox *tox, const char *cmd, char *args, bool tcp_relay)
{
    char *host = next_word(&args);
    char *port_s = next_word(&args);
    char *pk_s = next_word(&args);
    uint32_t port;
    uint8_t pk[TOX_PUBLIC_KEY_SIZE];
    if (host == NULL || !parse_u32(port_s, 65535, &port) || !hex_decode(pk_s, pk, sizeof pk)) {
        out_line("ERR %s usage", cmd);
        return;
    }
    Tox_Err_Bootstrap err;
    bool ok = tcp_relay ? tox_add_tcp_relay(tox, host, (uint16_t)port, pk, &err)
                        : tox_bootstrap(tox, host, (uint16_t)port, pk, &err);
    if (ok) out_line("OK"); else REPLY_ERR(cmd, err);
}

static void cmd_add_friend(Tox *tox, const char *cmd, char *args)
{
    char *id_s = next_word(&args);
    uint8_t address[TOX_ADDRESS_SIZE];
    if (!hex_decode(id_s, address, sizeof address)) {
        out_line("ERR %s usage", cmd);
        return;
    }
    size_t len = unescape(args);
    Tox_Err_Friend_Add err;
    uint32_t num = tox_friend_add(tox, address, (const uint8_t *)args, len, &err);
    if (err == TOX_ERR_FRIEND_ADD_OK) out_line("OK %u", num); else REPLY_ERR(cmd, err);
}

static void cmd_add_norequest(Tox *tox, const char *cmd, char *args)
{
    char *pk_s = next_word(&args);
    uint8_t pk[TOX_PUBLIC_KEY_SIZE];
    if (!hex_decode(pk_s, pk, sizeof pk)) {
        out_line("ERR %s usage", cmd);
        return;
    }
    Tox_Err_Friend_Add err;
    uint32_t num = tox_friend_add_norequest(tox, pk, &err);
    if (err == TOX_ERR_FRIEND_ADD_OK) out_line("OK %u", num); else REPLY_ERR(cmd, err);
}

static void cmd_send(Tox *tox, const char *cmd, char *args, Tox_Message_Type type)
{
    uint32_t friend_number;
    if (!parse_u32(next_word(&args), UINT32_MAX, &friend_number)) {
        out_line("ERR %s usage", cmd);
        return;
    }
    size_t len = unescape(args);
    Tox_Err_Friend_Send_Message err;
    uint32_t id = tox_friend_send_message(tox, friend_number, type, (const uint8_t *)args, len, &err);
    if (err == TOX_ERR_FRIEND_SEND_MESSAGE_OK) out_line("OK %u", id); else REPLY_ERR(cmd, err);
}

/* Custom lossless packets: send-lossless <friend> <hex, id 160-191 first>. */
static void cmd_send_lossless(Tox *tox, const char *cmd, char *args)
{
    uint32_t friend_number;
    if (!parse_u32(next_word(&args), UINT32_MAX, &friend_number)) {
        out_line("ERR %s usage", cmd);
        return;
    }
    const char *hex = next_word(&args);
    size_t len = hex == NULL ? 0 : strlen(hex) / 2;
    uint8_t data[TOX_MAX_CUSTOM_PACKET_SIZE];
    if (len == 0 || len > sizeof data || !hex_decode(hex, data, len)) {
        out_line("ERR %s usage", cmd);
        return;
    }
    Tox_Err_Friend_Custom_Packet err;
    if (tox_friend_send_lossless_packet(tox, friend_number, data, len, &err)) out_line("OK");
    else REPLY_ERR(cmd, err);
}

static void cmd_send_file(Tox *tox, const char *cmd, char *args)
{
    uint32_t friend_number;
    if (!parse_u32(next_word(&args), UINT32_MAX, &friend_number) || *args == '\0') {
        out_line("ERR %s usage", cmd);
        return;
    }
    unescape(args);
    FILE *fp = fopen(args, "rb");
    if (fp == NULL || fseeko(fp, 0, SEEK_END) != 0) {
        if (fp != NULL) fclose(fp);
        out_line("ERR %s open", cmd);
        return;
    }
    off_t size = ftello(fp);
    const char *base = strrchr(args, '/');
    base = base == NULL ? args : base + 1;

    Tox_Err_File_Send err;
    uint32_t file_number = tox_file_send(tox, friend_number, TOX_FILE_KIND_DATA, (uint64_t)size, NULL,
                                         (const uint8_t *)base, strlen(base), &err);
    if (err != TOX_ERR_FILE_SEND_OK) {
        fclose(fp);
        REPLY_ERR(cmd, err);
        return;
    }
    struct transfer *t = transfer_new(false, friend_number, file_number);
    if (t == NULL) {
        fclose(fp);
        tox_file_control(tox, friend_number, file_number, TOX_FILE_CONTROL_CANCEL, NULL);
        out_line("ERR %s too-many-transfers", cmd);
        return;
    }
    t->fp = fp;
    t->size = (uint64_t)size;
    snprintf(t->path, sizeof t->path, "%s", args);
    out_line("OK %u", file_number);
}

static uint8_t *read_file(const char *path, size_t *len);

/* send-stream <friend> <path>: the file's bytes as a stream of unknown size.
 * send-avatar <friend> <path>: the file as an avatar (kind 1, file id = its
 * hash); an empty path sends "no avatar" (size 0). */
static void cmd_send_special(Tox *tox, const char *cmd, char *args, bool avatar)
{
    uint32_t friend_number;
    if (!parse_u32(next_word(&args), UINT32_MAX, &friend_number)) {
        out_line("ERR %s usage", cmd);
        return;
    }
    unescape(args);
    FILE *fp = NULL;
    uint64_t size = 0;
    uint8_t file_id[TOX_FILE_ID_LENGTH];
    const uint8_t *id = NULL;
    if (*args != '\0') {
        fp = fopen(args, "rb");
        if (fp == NULL || fseeko(fp, 0, SEEK_END) != 0) {
            if (fp != NULL) fclose(fp);
            out_line("ERR %s open", cmd);
            return;
        }
        size = (uint64_t)ftello(fp);
    }
    if (avatar && fp != NULL) {
        size_t len = 0;
        uint8_t *data = read_file(args, &len);
        if (data == NULL || !tox_hash(file_id, data, len)) {
            free(data);
            fclose(fp);
            out_line("ERR %s hash", cmd);
            return;
        }
        free(data);
        id = file_id;
    }
    if (!avatar) size = UINT64_MAX;
    const char *base = strrchr(args, '/');
    base = base == NULL ? args : base + 1;
    Tox_Err_File_Send err;
    uint32_t file_number =
        tox_file_send(tox, friend_number, avatar ? TOX_FILE_KIND_AVATAR : TOX_FILE_KIND_DATA, size, id,
                      (const uint8_t *)base, strlen(base), &err);
    if (err != TOX_ERR_FILE_SEND_OK) {
        if (fp != NULL) fclose(fp);
        REPLY_ERR(cmd, err);
        return;
    }
    if (fp != NULL || size == 0) {
        struct transfer *t = transfer_new(false, friend_number, file_number);
        if (t == NULL) {
            if (fp != NULL) fclose(fp);
            tox_file_control(tox, friend_number, file_number, TOX_FILE_CONTROL_CANCEL, NULL);
            out_line("ERR %s too-many-transfers", cmd);
            return;
        }
        t->fp = fp;
        t->size = size;
        snprintf(t->path, sizeof t->path, "%s", args);
    }
    out_line("OK %u", file_number);
}

/* file-control <friend> <file> resume|pause|cancel */
static void cmd_file_control(Tox *tox, const char *cmd, char *args)
{
    uint32_t friend_number, file_number;
    const char *what = NULL;
    if (!parse_u32(next_word(&args), UINT32_MAX, &friend_number) ||
        !parse_u32(next_word(&args), UINT32_MAX, &file_number) || (what = next_word(&args)) == NULL) {
        out_line("ERR %s usage", cmd);
        return;
    }
    Tox_File_Control control;
    if (strcmp(what, "resume") == 0) control = TOX_FILE_CONTROL_RESUME;
    else if (strcmp(what, "pause") == 0) control = TOX_FILE_CONTROL_PAUSE;
    else if (strcmp(what, "cancel") == 0) control = TOX_FILE_CONTROL_CANCEL;
    else {
        out_line("ERR %s usage", cmd);
        return;
    }
    Tox_Err_File_Control err;
    if (!tox_file_control(tox, friend_number, file_number, control, &err)) {
        REPLY_ERR(cmd, err);
        return;
    }
    if (control == TOX_FILE_CONTROL_CANCEL) {
        struct transfer *t = transfer_find(false, friend_number, file_number);
        if (t == NULL) t = transfer_find(true, friend_number, file_number);
        if (t != NULL) transfer_free(t);
    }
    out_line("OK");
}

/* file-seek <friend> <file> <position>: before accepting an incoming file. */
static void cmd_file_seek(Tox *tox, const char *cmd, char *args)
{
    uint32_t friend_number, file_number;
    uint64_t position;
    if (!parse_u32(next_word(&args), UINT32_MAX, &friend_number) ||
        !parse_u32(next_word(&args), UINT32_MAX, &file_number) || !parse_u64(next_word(&args), &position)) {
        out_line("ERR %s usage", cmd);
        return;
    }
    Tox_Err_File_Seek err;
    if (!tox_file_seek(tox, friend_number, file_number, position, &err)) {
        REPLY_ERR(cmd, err);
        return;
    }
    struct transfer *t = transfer_find(true, friend_number, file_number);
    if (t != NULL) t->done_bytes = position;
    out_line("OK");
}

static void cmd_savedata(Tox *tox, const char *cmd, char *args)
{
    unescape(args);
    size_t size = tox_get_savedata_size(tox);
    uint8_t *data = malloc(size > 0 ? size : 1);
    FILE *fp = data == NULL ? NULL : fopen(args, "wb");
    bool ok = fp != NULL;
    if (ok) {
        tox_get_savedata(tox, data);
        ok = fwrite(data, 1, size, fp) == size;
    }
    if (fp != NULL && fclose(fp) != 0) ok = false;
    free(data);
    if (ok) out_line("OK %zu", size); else out_line("ERR %s io", cmd);
}

/* friend-list: OK followed by each friend's public key, in friend-number order. */
static void cmd_friend_list(Tox *tox)
{
    size_t count = tox_self_get_friend_list_size(tox);
    uint32_t *numbers = malloc((count > 0 ? count : 1) * sizeof *numbers);
    if (numbers == NULL) {
        out_line("ERR friend-list nomem");
        return;
    }
    tox_self_get_friend_list(tox, numbers);
    fputs("OK", stdout);
    for (size_t i = 0; i < count; i++) {
        uint8_t pk[TOX_PUBLIC_KEY_SIZE];
        if (!tox_friend_get_public_key(tox, numbers[i], pk, NULL)) continue;
        fputs(" ", stdout);
        out_hex(pk, sizeof pk);
    }
    out_line("%s", "");
    free(numbers);
}

/* pass-encrypt <passphrase-hex> <plain-hex> / pass-decrypt <passphrase-hex> <data-hex>:
 * OK <hex>, or ERR <command> <Tox_Err_Encryption / Tox_Err_Decryption code>. */
static void cmd_pass_crypt(const char *cmd, char *args, bool encrypt)
{
    size_t pass_len = 0, in_len = 0;
    uint8_t *pass = hex_decode_alloc(next_word(&args), &pass_len);
    uint8_t *in = pass == NULL ? NULL : hex_decode_alloc(next_word(&args), &in_len);
    size_t out_len = encrypt ? in_len + TOX_PASS_ENCRYPTION_EXTRA_LENGTH
                             : (in_len > TOX_PASS_ENCRYPTION_EXTRA_LENGTH ? in_len - TOX_PASS_ENCRYPTION_EXTRA_LENGTH : 0);
    uint8_t *out = in == NULL ? NULL : malloc(out_len + 1);
    if (out == NULL) {
        out_line("ERR %s usage", cmd);
    } else if (encrypt) {
        Tox_Err_Encryption err;
        if (tox_pass_encrypt(in, in_len, pass, pass_len, out, &err)) {
            fputs("OK ", stdout);
            out_hex(out, out_len);
            out_line("%s", "");
        } else {
            REPLY_ERR(cmd, err);
        }
    } else {
        Tox_Err_Decryption err;
        if (tox_pass_decrypt(in, in_len, pass, pass_len, out, &err)) {
            fputs("OK ", stdout);
            out_hex(out, out_len);
            out_line("%s", "");
        } else {
            REPLY_ERR(cmd, err);
        }
    }
    free(out);
    free(in);
    free(pass);
}

static void handle_command(Tox *tox, char *line)
{
    char *args = line;
    char *cmd = next_word(&args);
    if (cmd == NULL) {
        out_line("ERR empty usage");
        return;
    }
    uint32_t a, b;

    if (strcmp(cmd, "bootstrap") == 0) {
        cmd_bootstrap(tox, cmd, args, false);
    } else if (strcmp(cmd, "add-tcp-relay") == 0) {
        cmd_bootstrap(tox, cmd, args, true);
    } else if (strcmp(cmd, "address") == 0) {
        uint8_t address[TOX_ADDRESS_SIZE];
        tox_self_get_address(tox, address);
        fputs("OK ", stdout);
        out_hex(address, sizeof address);
        out_line("%s", "");
    } else if (strcmp(cmd, "dhtkey") == 0) {
        uint8_t dht[TOX_PUBLIC_KEY_SIZE];
        tox_self_get_dht_id(tox, dht);
        fputs("OK ", stdout);
        out_hex(dht, sizeof dht);
        out_line("%s", "");
    } else if (strcmp(cmd, "udpport") == 0 || strcmp(cmd, "tcpport") == 0) {
        Tox_Err_Get_Port err;
        uint16_t port = cmd[0] == 'u' ? tox_self_get_udp_port(tox, &err) : tox_self_get_tcp_port(tox, &err);
        if (err == TOX_ERR_GET_PORT_OK) out_line("OK %u", port); else REPLY_ERR(cmd, err);
    } else if (strcmp(cmd, "self-connection") == 0) {
        out_line("OK %s", connection_name(tox_self_get_connection_status(tox)));
    } else if (strcmp(cmd, "add-friend") == 0) {
        cmd_add_friend(tox, cmd, args);
    } else if (strcmp(cmd, "add-friend-norequest") == 0 || strcmp(cmd, "accept") == 0) {
        cmd_add_norequest(tox, cmd, args);
    } else if (strcmp(cmd, "friend-connection") == 0) {
        Tox_Err_Friend_Query err;
        if (!parse_u32(next_word(&args), UINT32_MAX, &a)) {
            out_line("ERR %s usage", cmd);
            return;
        }
        Tox_Connection c = tox_friend_get_connection_status(tox, a, &err);
        if (err == TOX_ERR_FRIEND_QUERY_OK) out_line("OK %s", connection_name(c)); else REPLY_ERR(cmd, err);
    } else if (strcmp(cmd, "send") == 0) {
        cmd_send(tox, cmd, args, TOX_MESSAGE_TYPE_NORMAL);
    } else if (strcmp(cmd, "send-action") == 0) {
        cmd_send(tox, cmd, args, TOX_MESSAGE_TYPE_ACTION);
    } else if (strcmp(cmd, "send-file") == 0) {
        cmd_send_file(tox, cmd, args);
    } else if (strcmp(cmd, "send-stream") == 0) {
        cmd_send_special(tox, cmd, args, false);
    } else if (strcmp(cmd, "send-avatar") == 0) {
        cmd_send_special(tox, cmd, args, true);
    } else if (strcmp(cmd, "file-control") == 0) {
        cmd_file_control(tox, cmd, args);
    } else if (strcmp(cmd, "file-seek") == 0) {
        cmd_file_seek(tox, cmd, args);
    } else if (strcmp(cmd, "send-lossless") == 0) {
        cmd_send_lossless(tox, cmd, args);
    } else if (strcmp(cmd, "savedata") == 0) {
        cmd_savedata(tox, cmd, args);
    } else if (strcmp(cmd, "set-name") == 0) {
        size_t len = unescape(args);
        Tox_Err_Set_Info err;
        if (tox_self_set_name(tox, (const uint8_t *)args, len, &err)) out_line("OK"); else REPLY_ERR(cmd, err);
    } else if (strcmp(cmd, "set-status-message") == 0) {
        size_t len = unescape(args);
        Tox_Err_Set_Info err;
        if (tox_self_set_status_message(tox, (const uint8_t *)args, len, &err)) out_line("OK");
        else REPLY_ERR(cmd, err);
    } else if (strcmp(cmd, "set-status") == 0) {
        /* set-status <0|1|2>: none (available), away, busy. */
        if (!parse_u32(next_word(&args), TOX_USER_STATUS_BUSY, &a)) {
            out_line("ERR %s usage", cmd);
            return;
        }
        tox_self_set_status(tox, (Tox_User_Status)a);
        out_line("OK");
    } else if (strcmp(cmd, "set-typing") == 0) {
        /* set-typing <friend> <0|1> */
        if (!parse_u32(next_word(&args), UINT32_MAX, &a) || !parse_u32(next_word(&args), 1, &b)) {
            out_line("ERR %s usage", cmd);
            return;
        }
        Tox_Err_Set_Typing err;
        if (tox_self_set_typing(tox, a, b == 1, &err)) out_line("OK"); else REPLY_ERR(cmd, err);
    } else if (strcmp(cmd, "self-name") == 0) {
        uint8_t name[TOX_MAX_NAME_LENGTH];
        size_t len = tox_self_get_name_size(tox);
        tox_self_get_name(tox, name);
        out_line_text(name, len, "OK ");
    } else if (strcmp(cmd, "self-status-message") == 0) {
        uint8_t text[TOX_MAX_STATUS_MESSAGE_LENGTH];
        size_t len = tox_self_get_status_message_size(tox);
        tox_self_get_status_message(tox, text);
        out_line_text(text, len, "OK ");
    } else if (strcmp(cmd, "friend-list") == 0) {
        cmd_friend_list(tox);
    } else if (strcmp(cmd, "pass-encrypt") == 0 || strcmp(cmd, "pass-decrypt") == 0) {
        cmd_pass_crypt(cmd, args, cmd[5] == 'e');
    } else if (strcmp(cmd, "conference-new") == 0) {
        Tox_Err_Conference_New err;
        uint32_t conf = tox_conference_new(tox, &err);
        if (err == TOX_ERR_CONFERENCE_NEW_OK) out_line("OK %u", conf); else REPLY_ERR(cmd, err);
    } else if (strcmp(cmd, "conference-invite") == 0) {
        if (!parse_u32(next_word(&args), UINT32_MAX, &a) || !parse_u32(next_word(&args), UINT32_MAX, &b)) {
            out_line("ERR %s usage", cmd);
            return;
        }
        Tox_Err_Conference_Invite err;
        if (tox_conference_invite(tox, b, a, &err)) out_line("OK"); else REPLY_ERR(cmd, err);
    } else if (strcmp(cmd, "conference-send") == 0) {
        if (!parse_u32(next_word(&args), UINT32_MAX, &a)) {
            out_line("ERR %s usage", cmd);
            return;
        }
        size_t len = unescape(args);
        Tox_Err_Conference_Send_Message err;
        if (tox_conference_send_message(tox, a, TOX_MESSAGE_TYPE_NORMAL, (const uint8_t *)args, len, &err)) {
            out_line("OK");
        } else {
            REPLY_ERR(cmd, err);
        }
    } else if (strcmp(cmd, "conference-title") == 0) {
        if (!parse_u32(next_word(&args), UINT32_MAX, &a)) {
            out_line("ERR %s usage", cmd);
            return;
        }
        size_t len = unescape(args);
        Tox_Err_Conference_Title err;
        if (tox_conference_set_title(tox, a, (const uint8_t *)args, len, &err)) out_line("OK");
        else REPLY_ERR(cmd, err);
    } else if (strcmp(cmd, "conference-id") == 0) {
        uint8_t id[TOX_CONFERENCE_ID_SIZE];
        if (!parse_u32(next_word(&args), UINT32_MAX, &a) || !tox_conference_get_id(tox, a, id)) {
            out_line("ERR %s usage", cmd);
            return;
        }
        fprintf(stdout, "OK ");
        out_hex(id, sizeof(id));
        out_line("%s", "");
    } else if (strcmp(cmd, "conference-peers") == 0) {
        Tox_Err_Conference_Peer_Query err;
        if (!parse_u32(next_word(&args), UINT32_MAX, &a)) {
            out_line("ERR %s usage", cmd);
            return;
        }
        uint32_t count = tox_conference_peer_count(tox, a, &err);
        if (err == TOX_ERR_CONFERENCE_PEER_QUERY_OK) out_line("OK %u", count); else REPLY_ERR(cmd, err);
    } else if (strcmp(cmd, "ping") == 0) {
        out_line("OK pong");
    } else if (strcmp(cmd, "quit") == 0) {
        out_line("OK bye");
        quit_requested = true;
    } else {
        out_line("ERR %s unknown-command", cmd);
    }
}

/* ---------------------------------------------------------------- main */

struct args {
    uint32_t port;
    uint32_t tcp_port;
    uint32_t loop_cap_ms;
    bool udp;
    bool local_discovery;
    const char *savedata;
};

static bool parse_args(int argc, char **argv, struct args *a)
{
    a->port = 0;
    a->tcp_port = 0;
    a->loop_cap_ms = 20;
    a->udp = true;
    a->local_discovery = false;
    a->savedata = NULL;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--no-udp") == 0) {
            a->udp = false;
            continue;
        }
        if (strcmp(opt, "--local-discovery") == 0) {
            a->local_discovery = true;
            continue;
        }
        if (strcmp(opt, "--manual-files") == 0) {
            manual_files = true;
            continue;
        }
        bool ok;
        if (strcmp(opt, "--port") == 0) ok = parse_u32(val, 65535, &a->port) && a->port != 0;
        else if (strcmp(opt, "--tcp-port") == 0) ok = parse_u32(val, 65535, &a->tcp_port);
        else if (strcmp(opt, "--loop-cap") == 0) ok = parse_u32(val, 1000, &a->loop_cap_ms);
        else if (strcmp(opt, "--savedata") == 0) ok = (a->savedata = val) != NULL;
        else if (strcmp(opt, "--recv-dir") == 0) ok = (recv_dir = val) != NULL;
        else ok = false;
        if (!ok) return false;
        i++;
    }
    return a->port != 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return NULL;
    uint8_t *data = NULL;
    if (fseeko(fp, 0, SEEK_END) == 0) {
        off_t size = ftello(fp);
        if (size >= 0 && fseeko(fp, 0, SEEK_SET) == 0 && (data = malloc((size_t)size + 1)) != NULL &&
            fread(data, 1, (size_t)size, fp) != (size_t)size) {
            free(data);
            data = NULL;
        }
        *len = (size_t)size;
    }
    fclose(fp);
    return data;
}

static Tox *start_tox(const struct args *a)
{
    struct Tox_Options *opts = tox_options_new(NULL);
    if (opts == NULL) return NULL;
    tox_options_set_ipv6_enabled(opts, false);
    tox_options_set_udp_enabled(opts, a->udp);
    tox_options_set_local_discovery_enabled(opts, a->local_discovery);
    tox_options_set_start_port(opts, (uint16_t)a->port);
    tox_options_set_end_port(opts, (uint16_t)a->port);
    tox_options_set_tcp_port(opts, (uint16_t)a->tcp_port);

    uint8_t *save = NULL;
    if (a->savedata != NULL) {
        size_t len = 0;
        save = read_file(a->savedata, &len);
        if (save == NULL) {
            out_line("FATAL savedata io");
            tox_options_free(opts);
            return NULL;
        }
        tox_options_set_savedata_type(opts, TOX_SAVEDATA_TYPE_TOX_SAVE);
        tox_options_set_savedata_data(opts, save, len);
    }

    Tox_Err_New err;
    Tox *tox = tox_new(opts, &err);
    tox_options_free(opts);
    free(save);
    if (tox == NULL) out_line("FATAL tox_new %d", (int)err);
    return tox;
}

static void register_callbacks(Tox *tox)
{
    tox_callback_self_connection_status(tox, on_self_connection);
    tox_callback_friend_request(tox, on_friend_request);
    tox_callback_friend_connection_status(tox, on_friend_connection);
    tox_callback_friend_message(tox, on_friend_message);
    tox_callback_friend_name(tox, on_friend_name);
    tox_callback_friend_status_message(tox, on_friend_status_message);
    tox_callback_friend_status(tox, on_friend_status);
    tox_callback_friend_typing(tox, on_friend_typing);
    tox_callback_friend_read_receipt(tox, on_read_receipt);
    tox_callback_friend_lossless_packet(tox, on_friend_lossless);
    tox_callback_file_recv(tox, on_file_recv);
    tox_callback_file_recv_chunk(tox, on_file_recv_chunk);
    tox_callback_file_chunk_request(tox, on_file_chunk_request);
    tox_callback_file_recv_control(tox, on_file_recv_control);
    tox_callback_conference_invite(tox, on_conference_invite);
    tox_callback_conference_connected(tox, on_conference_connected);
    tox_callback_conference_message(tox, on_conference_message);
    tox_callback_conference_peer_list_changed(tox, on_conference_peers);
    tox_callback_conference_title(tox, on_conference_title);
    tox_callback_conference_peer_name(tox, on_conference_peer_name);
}

/* Reads what stdin has and runs every complete line; false once stdin is closed. */
static bool pump_stdin(Tox *tox, char *buf, size_t *used)
{
    ssize_t n = read(STDIN_FILENO, buf + *used, LINE_MAX_BYTES - *used);
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n == 0) return false;
    *used += (size_t)n;

    size_t start = 0;
    for (size_t i = 0; i < *used; i++) {
        if (buf[i] != '\n') continue;
        buf[i] = '\0';
        if (i > start && buf[i - 1] == '\r') buf[i - 1] = '\0';
        handle_command(tox, buf + start);
        start = i + 1;
        if (quit_requested) return true;
    }
    memmove(buf, buf + start, *used - start);
    *used -= start;
    if (*used == LINE_MAX_BYTES) {
        out_line("ERR line too-long");
        *used = 0;
    }
    return true;
}

int main(int argc, char **argv)
{
    struct args a;
    if (!parse_args(argc, argv, &a)) {
        fprintf(stderr,
                "usage: %s --port N [--savedata FILE] [--tcp-port N] [--no-udp] [--recv-dir DIR] [--manual-files] [--loop-cap MS]"
                " [--local-discovery]\n",
                argv[0]);
        return 2;
    }
    Tox *tox = start_tox(&a);
    if (tox == NULL) return 1;
    register_callbacks(tox);

    uint8_t address[TOX_ADDRESS_SIZE];
    uint8_t dht[TOX_PUBLIC_KEY_SIZE];
    tox_self_get_address(tox, address);
    tox_self_get_dht_id(tox, dht);
    fputs("READY ", stdout);
    out_hex(address, sizeof address);
    fputs(" ", stdout);
    out_hex(dht, sizeof dht);
    out_line(" %u", tox_self_get_udp_port(tox, NULL));

    static char buf[LINE_MAX_BYTES];
    size_t used = 0;
    bool stdin_open = true;
    while (stdin_open && !quit_requested) {
        uint32_t wait_ms = tox_iteration_interval(tox);
        if (wait_ms > a.loop_cap_ms) wait_ms = a.loop_cap_ms;
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int ready = poll(&pfd, 1, (int)wait_ms);
        if (ready > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            stdin_open = pump_stdin(tox, buf, &used);
        } else if (ready < 0 && errno != EINTR) {
            break;
        }
        tox_iterate(tox, NULL);
    }

    for (int i = 0; i < MAX_TRANSFERS; i++) {
        if (transfers[i].used) transfer_free(&transfers[i]);
    }
    tox_kill(tox);
    return 0;
}
