/*
 * ABI check for toxide's libtoxcore.so, run by ffi/tests/abi.rs.
 *
 * Compiled against Debian's <tox/tox.h> (c-toxcore 0.2.18) and linked
 * against toxide's library, it proves that what the header promises is what
 * the library does: the version, every size getter against its macro, and
 * struct Tox_Options byte for byte (defaults, size, and every accessor
 * against the header's own field). It also prints the header's view of the
 * layout and of every enum for the Rust side to compare:
 *
 *   LIB <path>                the file tox_options_default was loaded from
 *   LAYOUT <field> <offset>   offsetof in the header; also sizeof, alignof
 *   ENUM <tag> <sizeof>       from toxide_enums.h, which the test writes
 *   CONST <name> <value>
 *   FAIL <what>               a check that failed (exit status 1)
 *   DONE <checks> <failures>
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <tox/tox.h>

#include "check.h"


/* ---- version and sizes ------------------------------------------------ */

static void check_version(void)
{
    CHECK(tox_version_major() == TOX_VERSION_MAJOR);
    CHECK(tox_version_minor() == TOX_VERSION_MINOR);
    CHECK(tox_version_patch() == TOX_VERSION_PATCH);
    CHECK(TOX_VERSION_IS_ABI_COMPATIBLE());

    /* The library's rule must agree with the header's macro everywhere
     * near the current version. */
    bool agree = true;
    for (uint32_t major = 0; major < 3; ++major) {
        for (uint32_t minor = 0; minor < 4; ++minor) {
            for (uint32_t patch = 0; patch < 25; ++patch) {
                bool macro = TOX_VERSION_IS_API_COMPATIBLE(major, minor, patch);
                if (tox_version_is_compatible(major, minor, patch) != macro) {
                    printf("FAIL tox_version_is_compatible(%u, %u, %u) != %d\n",
                           major, minor, patch, macro);
                    agree = false;
                }
            }
        }
    }
    CHECK(agree);
}

static void check_sizes(void)
{
    CHECK(tox_public_key_size() == TOX_PUBLIC_KEY_SIZE);
    CHECK(tox_secret_key_size() == TOX_SECRET_KEY_SIZE);
    CHECK(tox_conference_uid_size() == TOX_CONFERENCE_UID_SIZE);
    CHECK(tox_conference_id_size() == TOX_CONFERENCE_ID_SIZE);
    CHECK(tox_nospam_size() == TOX_NOSPAM_SIZE);
    CHECK(tox_address_size() == TOX_ADDRESS_SIZE);
    CHECK(tox_max_name_length() == TOX_MAX_NAME_LENGTH);
    CHECK(tox_max_status_message_length() == TOX_MAX_STATUS_MESSAGE_LENGTH);
    CHECK(tox_max_friend_request_length() == TOX_MAX_FRIEND_REQUEST_LENGTH);
    CHECK(tox_max_message_length() == TOX_MAX_MESSAGE_LENGTH);
    CHECK(tox_max_custom_packet_size() == TOX_MAX_CUSTOM_PACKET_SIZE);
    CHECK(tox_hash_length() == TOX_HASH_LENGTH);
    CHECK(tox_file_id_length() == TOX_FILE_ID_LENGTH);
    CHECK(tox_max_filename_length() == TOX_MAX_FILENAME_LENGTH);
    CHECK(tox_max_hostname_length() == TOX_MAX_HOSTNAME_LENGTH);
}

/* ---- struct Tox_Options ----------------------------------------------- */

#define OPTION_FIELDS(X)            \
    X(ipv6_enabled)                 \
    X(udp_enabled)                  \
    X(local_discovery_enabled)      \
    X(dht_announcements_enabled)    \
    X(proxy_type)                   \
    X(proxy_host)                   \
    X(proxy_port)                   \
    X(start_port)                   \
    X(end_port)                     \
    X(tcp_port)                     \
    X(hole_punching_enabled)        \
    X(savedata_type)                \
    X(savedata_data)                \
    X(savedata_length)              \
    X(log_callback)                 \
    X(log_user_data)                \
    X(experimental_thread_safety)   \
    X(operating_system)

static void print_layout(void)
{
#define PRINT_OFFSET(field) \
    printf("LAYOUT %s %zu\n", #field, offsetof(struct Tox_Options, field));
    OPTION_FIELDS(PRINT_OFFSET)
#undef PRINT_OFFSET
    printf("LAYOUT sizeof %zu\n", sizeof(struct Tox_Options));
    printf("LAYOUT alignof %zu\n", alignof(struct Tox_Options));
}

static void check_defaults(const struct Tox_Options *o)
{
    CHECK(o->ipv6_enabled);
    CHECK(o->udp_enabled);
    CHECK(o->local_discovery_enabled);
    CHECK(o->dht_announcements_enabled);
    CHECK(o->proxy_type == TOX_PROXY_TYPE_NONE);
    CHECK(o->proxy_host == NULL);
    CHECK(o->proxy_port == 0);
    CHECK(o->start_port == 0);
    CHECK(o->end_port == 0);
    CHECK(o->tcp_port == 0);
    CHECK(o->hole_punching_enabled);
    CHECK(o->savedata_type == TOX_SAVEDATA_TYPE_NONE);
    CHECK(o->savedata_data == NULL);
    CHECK(o->savedata_length == 0);
    CHECK(o->log_callback == NULL);
    CHECK(o->log_user_data == NULL);
    CHECK(!o->experimental_thread_safety);
    CHECK(o->operating_system == NULL);
}

/* tox_options_default on a struct between two others, all filled with a
 * pattern: it must set every field to its default (the last one included)
 * and write nothing outside the header's sizeof. */
static void check_default_fills_exactly_the_struct(void)
{
    struct Tox_Options three[3];
    memset(three, 0xA5, sizeof three);
    tox_options_default(&three[1]);
    check_defaults(&three[1]);

    const unsigned char *bytes = (const unsigned char *)three;
    bool untouched = true;
    for (size_t i = 0; i < sizeof three; ++i) {
        bool inside = i >= sizeof three[0] && i < 2 * sizeof three[0];
        if (!inside && bytes[i] != 0xA5) {
            untouched = false;
        }
    }
    CHECK(untouched);
}

static void check_new_and_free(void)
{
    Tox_Err_Options_New err = TOX_ERR_OPTIONS_NEW_MALLOC;
    struct Tox_Options *o = tox_options_new(&err);
    CHECK(o != NULL);
    CHECK(err == TOX_ERR_OPTIONS_NEW_OK);
    if (o != NULL) {
        check_defaults(o);
    }
    tox_options_free(o);

    o = tox_options_new(NULL);
    CHECK(o != NULL);
    tox_options_free(o);
    tox_options_free(NULL);
    tox_options_default(NULL);
}

/* Whether every byte of *o outside [a, a + a_len) and [b, b + b_len) is 0. */
static bool zero_outside(const struct Tox_Options *o, size_t a, size_t a_len, size_t b, size_t b_len)
{
    const unsigned char *bytes = (const unsigned char *)o;
    for (size_t i = 0; i < sizeof *o; ++i) {
        bool in_a = i >= a && i < a + a_len;
        bool in_b = i >= b && i < b + b_len;
        if (!in_a && !in_b && bytes[i] != 0) {
            return false;
        }
    }
    return true;
}

static void log_callback_value(Tox *tox, Tox_Log_Level level, const char *file, uint32_t line,
                               const char *func, const char *message, void *user_data)
{
    (void)tox;
    (void)level;
    (void)file;
    (void)line;
    (void)func;
    (void)message;
    (void)user_data;
}

static const char proxy_host_value[] = "proxy.invalid";
static const uint8_t savedata_value[] = {1, 2, 3, 4, 5};
static int user_data_target;
static int operating_system_target;

/* Non-zero test values with distinct bytes, so a getter or setter at the
 * wrong offset or of the wrong width is caught. The enum fields get numbers
 * outside their enums: c-toxcore's accessors pass any value through. */
#define TEST_VALUES(X)                                                         \
    X(ipv6_enabled, true)                                                      \
    X(udp_enabled, true)                                                       \
    X(local_discovery_enabled, true)                                           \
    X(dht_announcements_enabled, true)                                         \
    X(proxy_type, (Tox_Proxy_Type)0x01020304u)                                 \
    X(proxy_host, proxy_host_value)                                            \
    X(proxy_port, 0x1234)                                                      \
    X(start_port, 0x2345)                                                      \
    X(end_port, 0x3456)                                                        \
    X(tcp_port, 0x4567)                                                        \
    X(hole_punching_enabled, true)                                             \
    X(savedata_type, (Tox_Savedata_Type)0x05060708u)                           \
    X(savedata_length, (size_t)0x0A0B0C0Du)                                    \
    X(log_callback, log_callback_value)                                        \
    X(log_user_data, (void *)&user_data_target)                                \
    X(experimental_thread_safety, true)                                        \
    X(operating_system, (const Tox_System *)(const void *)&operating_system_target)

/* For each field, on an all-zero struct: a value written directly is what
 * the getter returns, and the setter writes the header's field and nothing
 * else. Together these pin every accessor to the header's offset. */
static void check_accessors(void)
{
    struct Tox_Options o;
#define TEST_FIELD(field, value)                                               \
    memset(&o, 0, sizeof o);                                                   \
    o.field = (value);                                                         \
    check(#field ": the getter reads the header's field", __LINE__,            \
          tox_options_get_##field(&o) == (value));                             \
    memset(&o, 0, sizeof o);                                                   \
    tox_options_set_##field(&o, (value));                                      \
    check(#field ": the setter writes the header's field", __LINE__,           \
          o.field == (value));                                                 \
    check(#field ": the setter writes nothing else", __LINE__,                 \
          zero_outside(&o, offsetof(struct Tox_Options, field), sizeof o.field, 0, 0));
    TEST_VALUES(TEST_FIELD)
#undef TEST_FIELD

    /* savedata_data has a getter of its own and a setter for data and
     * length together. */
    memset(&o, 0, sizeof o);
    o.savedata_data = savedata_value;
    CHECK(tox_options_get_savedata_data(&o) == savedata_value);
    memset(&o, 0, sizeof o);
    tox_options_set_savedata_data(&o, savedata_value, sizeof savedata_value);
    CHECK(o.savedata_data == savedata_value);
    CHECK(o.savedata_length == sizeof savedata_value);
    CHECK(zero_outside(&o, offsetof(struct Tox_Options, savedata_data), sizeof o.savedata_data,
                       offsetof(struct Tox_Options, savedata_length), sizeof o.savedata_length));
}

/* c-toxcore dereferences NULL options; toxide returns zero values and
 * ignores the set. */
static void check_null_options(void)
{
    bool zero = true;
#define TEST_NULL(field, value)                                                \
    tox_options_set_##field(NULL, (value));                                    \
    zero = zero && !tox_options_get_##field(NULL);
    TEST_VALUES(TEST_NULL)
#undef TEST_NULL
    tox_options_set_savedata_data(NULL, savedata_value, sizeof savedata_value);
    CHECK(zero);
    CHECK(tox_options_get_savedata_data(NULL) == NULL);
}

/* ---- tox_hash ---------------------------------------------------------- */

static void check_hash(void)
{
    /* SHA-256("abc"), FIPS 180-2 appendix B.1. */
    static const uint8_t abc[TOX_HASH_LENGTH] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    };
    uint8_t hash[TOX_HASH_LENGTH + 1];
    memset(hash, 0, sizeof hash);
    CHECK(tox_hash(hash, (const uint8_t *)"abc", 3));
    CHECK(memcmp(hash, abc, TOX_HASH_LENGTH) == 0);
    CHECK(hash[TOX_HASH_LENGTH] == 0);
    CHECK(tox_hash(hash, NULL, 0));
    CHECK(!tox_hash(hash, NULL, 1));
    CHECK(!tox_hash(NULL, (const uint8_t *)"abc", 3));
}

/* ---- enums --------------------------------------------------------------- */

static void print_enums(void)
{
#define TOXIDE_ENUM(tag) printf("ENUM %s %zu\n", #tag, sizeof(enum tag));
#define TOXIDE_CONST(name) printf("CONST %s %lld\n", #name, (long long)(name));
#include "toxide_enums.h"
#undef TOXIDE_ENUM
#undef TOXIDE_CONST
}

int main(void)
{
    Dl_info info;
    if (dladdr((void *)tox_options_default, &info) != 0 && info.dli_fname != NULL) {
        printf("LIB %s\n", info.dli_fname);
    }

    check_version();
    check_sizes();
    print_layout();
    check_default_fills_exactly_the_struct();
    check_new_and_free();
    check_accessors();
    check_null_options();
    check_hash();
    print_enums();

    printf("DONE %u %u\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
