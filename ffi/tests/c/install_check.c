/*
 * A client built the way README tells C users to build one: compiled
 * against Debian's tox.h, linked with `pkg-config --libs toxide-toxcore`.
 * It starts an instance (no LAN discovery, no bootstrap: it sends
 * nothing), saves it, starts a second one from the save and checks the
 * Tox ID survived, then prints which libtoxcore the loader mapped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tox/tox.h>

#include "check.h"

static Tox *start(const uint8_t *save, size_t save_len)
{
    Tox_Err_Options_New options_error;
    struct Tox_Options *options = tox_options_new(&options_error);
    CHECK(options != NULL && options_error == TOX_ERR_OPTIONS_NEW_OK);
    if (options == NULL) {
        return NULL;
    }
    tox_options_set_local_discovery_enabled(options, false);
    tox_options_set_ipv6_enabled(options, false);
    if (save != NULL) {
        tox_options_set_savedata_type(options, TOX_SAVEDATA_TYPE_TOX_SAVE);
        tox_options_set_savedata_data(options, save, save_len);
    }
    Tox_Err_New error;
    Tox *tox = tox_new(options, &error);
    CHECK(tox != NULL && error == TOX_ERR_NEW_OK);
    tox_options_free(options);
    return tox;
}

int main(void)
{
    Tox *first = start(NULL, 0);
    if (first == NULL) {
        printf("DONE %u %u\n", checks, failures);
        return 1;
    }
    uint8_t address[TOX_ADDRESS_SIZE];
    tox_self_get_address(first, address);
    CHECK(tox_self_set_name(first, (const uint8_t *)"installed", 9, NULL));
    tox_iterate(first, NULL);
    CHECK(tox_iteration_interval(first) <= 1000);

    size_t size = tox_get_savedata_size(first);
    uint8_t *save = malloc(size);
    CHECK(save != NULL);
    if (save == NULL) {
        return 1;
    }
    tox_get_savedata(first, save);
    tox_kill(first);

    Tox *second = start(save, size);
    free(save);
    if (second != NULL) {
        uint8_t again[TOX_ADDRESS_SIZE];
        tox_self_get_address(second, again);
        CHECK(memcmp(address, again, sizeof address) == 0);
        uint8_t name[TOX_MAX_NAME_LENGTH];
        CHECK(tox_self_get_name_size(second) == 9);
        tox_self_get_name(second, name);
        CHECK(memcmp(name, "installed", 9) == 0);
        tox_kill(second);
    }

    FILE *maps = fopen("/proc/self/maps", "r");
    CHECK(maps != NULL);
    char line[4096];
    while (maps != NULL && fgets(line, sizeof line, maps) != NULL) {
        const char *path = strchr(line, '/');
        if (path != NULL && strstr(path, "libtoxcore") != NULL) {
            printf("MAPPED %s", path);
        }
    }
    if (maps != NULL) {
        fclose(maps);
    }
    printf("DONE %u %u\n", checks, failures);
    return failures != 0;
}
