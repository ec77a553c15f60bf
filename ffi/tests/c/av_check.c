/*
 * toxav check, run by ffi/tests/av.rs.
 *
 * Compiled against Debian's <tox/toxav.h> (c-toxcore 0.2.18) and linked
 * against toxide's libtoxcore.so, it calls every function the header
 * declares and checks toxide's "calls are not supported yet" behaviour: a
 * session is created (the Tox pointer is the address of a variable here,
 * which the library must only store), hands its Tox back, takes every
 * callback without ever calling one, and every call, frame and conference
 * function fails with the code toxide documents. Sessions are created and
 * killed in a loop with nothing keeping their address, so a run under
 * valgrind reports a leak if toxav_kill does not free.
 *
 * Output:
 *   LIB <path>                the file toxav_new was loaded from
 *   ENUM <tag> <sizeof>       from toxide_av_enums.h (the test writes it)
 *   CONST <name> <value>
 *   FAIL <what>               a check that failed (exit status 1)
 *   DONE <checks> <failures>
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <tox/toxav.h>

#include "check.h"


/* Stands in for a Tox instance: only its address is ever used. */
static int not_a_tox;
#define DUMMY_TOX ((Tox *)&not_a_tox)

/* ---- callbacks: registered, never called ---------------------------------- */

static unsigned fired;

static void on_call(ToxAV *av, uint32_t friend_number, bool audio, bool video, void *user_data)
{
    (void)av, (void)friend_number, (void)audio, (void)video, (void)user_data;
    ++fired;
}

static void on_call_state(ToxAV *av, uint32_t friend_number, uint32_t state, void *user_data)
{
    (void)av, (void)friend_number, (void)state, (void)user_data;
    ++fired;
}

static void on_bit_rate(ToxAV *av, uint32_t friend_number, uint32_t bit_rate, void *user_data)
{
    (void)av, (void)friend_number, (void)bit_rate, (void)user_data;
    ++fired;
}

static void on_audio(ToxAV *av, uint32_t friend_number, const int16_t *pcm, size_t sample_count,
                     uint8_t channels, uint32_t sampling_rate, void *user_data)
{
    (void)av, (void)friend_number, (void)pcm, (void)sample_count, (void)channels;
    (void)sampling_rate, (void)user_data;
    ++fired;
}

static void on_video(ToxAV *av, uint32_t friend_number, uint16_t width, uint16_t height,
                     const uint8_t *y, const uint8_t *u, const uint8_t *v,
                     int32_t ystride, int32_t ustride, int32_t vstride, void *user_data)
{
    (void)av, (void)friend_number, (void)width, (void)height, (void)y, (void)u, (void)v;
    (void)ystride, (void)ustride, (void)vstride, (void)user_data;
    ++fired;
}

static void on_group_audio(void *tox, uint32_t groupnumber, uint32_t peernumber, const int16_t *pcm,
                           uint32_t samples, uint8_t channels, uint32_t sample_rate, void *userdata)
{
    (void)tox, (void)groupnumber, (void)peernumber, (void)pcm, (void)samples, (void)channels;
    (void)sample_rate, (void)userdata;
    ++fired;
}

static void register_all(ToxAV *av, void *user_data)
{
    toxav_callback_call(av, on_call, user_data);
    toxav_callback_call_state(av, on_call_state, user_data);
    toxav_callback_audio_bit_rate(av, on_bit_rate, user_data);
    toxav_callback_video_bit_rate(av, on_bit_rate, user_data);
    toxav_callback_audio_receive_frame(av, on_audio, user_data);
    toxav_callback_video_receive_frame(av, on_video, user_data);
}

static void iterate_all(ToxAV *av)
{
    for (int i = 0; i < 10; ++i) {
        toxav_iterate(av);
        toxav_audio_iterate(av);
        toxav_video_iterate(av);
    }
}

/* ---- session ------------------------------------------------------------------ */

static void check_new_and_kill(void)
{
    Toxav_Err_New err = TOXAV_ERR_NEW_OK;
    CHECK(toxav_new(NULL, &err) == NULL);
    CHECK(err == TOXAV_ERR_NEW_NULL);
    CHECK(toxav_new(NULL, NULL) == NULL);

    err = TOXAV_ERR_NEW_MULTIPLE;
    ToxAV *av = toxav_new(DUMMY_TOX, &err);
    CHECK(av != NULL);
    CHECK(err == TOXAV_ERR_NEW_OK);
    CHECK(toxav_get_tox(av) == DUMMY_TOX);
    CHECK(toxav_get_tox(NULL) == NULL);
    toxav_kill(av);
    toxav_kill(NULL);

    /* Nothing holds a session's address after the loop: under valgrind a
     * session toxav_kill did not free is "definitely lost". */
    bool all = true;
    for (int i = 0; i < 50; ++i) {
        av = toxav_new(DUMMY_TOX, NULL);
        all = all && av != NULL && toxav_get_tox(av) == DUMMY_TOX;
        register_all(av, &fired);
        toxav_kill(av);
    }
    av = NULL;
    CHECK(all);
}

static void check_iteration_and_callbacks(ToxAV *av)
{
    /* Long: no call is running, so nothing needs serving. */
    CHECK(toxav_iteration_interval(av) >= 1000);
    CHECK(toxav_audio_iteration_interval(av) >= 1000);
    CHECK(toxav_video_iteration_interval(av) >= 1000);
    CHECK(toxav_iteration_interval(NULL) >= 1000);

    register_all(av, &fired);
    register_all(NULL, &fired);
    iterate_all(av);
    iterate_all(NULL);
    CHECK(fired == 0);

    /* NULL unregisters. */
    toxav_callback_call(av, NULL, NULL);
    toxav_callback_call_state(av, NULL, NULL);
    toxav_callback_audio_bit_rate(av, NULL, NULL);
    toxav_callback_video_bit_rate(av, NULL, NULL);
    toxav_callback_audio_receive_frame(av, NULL, NULL);
    toxav_callback_video_receive_frame(av, NULL, NULL);
    iterate_all(av);
    CHECK(fired == 0);
    register_all(av, &fired);
}

/* ---- calls and frames fail ------------------------------------------------------ */

static void check_calls(ToxAV *av)
{
    Toxav_Err_Call call = TOXAV_ERR_CALL_OK;
    CHECK(!toxav_call(av, 0, 48, 5000, &call));
    CHECK(call == TOXAV_ERR_CALL_FRIEND_NOT_CONNECTED);
    call = TOXAV_ERR_CALL_OK;
    CHECK(!toxav_call(av, UINT32_MAX, 0, 0, &call));
    CHECK(call == TOXAV_ERR_CALL_FRIEND_NOT_CONNECTED);
    CHECK(!toxav_call(NULL, 0, 48, 0, &call));
    CHECK(call == TOXAV_ERR_CALL_SYNC);
    CHECK(!toxav_call(av, 0, 48, 0, NULL));

    Toxav_Err_Answer answer = TOXAV_ERR_ANSWER_OK;
    CHECK(!toxav_answer(av, 0, 48, 5000, &answer));
    CHECK(answer == TOXAV_ERR_ANSWER_FRIEND_NOT_CALLING);
    CHECK(!toxav_answer(NULL, 0, 48, 5000, &answer));
    CHECK(answer == TOXAV_ERR_ANSWER_SYNC);
    CHECK(!toxav_answer(av, 0, 48, 5000, NULL));

    static const Toxav_Call_Control controls[] = {
        TOXAV_CALL_CONTROL_RESUME,     TOXAV_CALL_CONTROL_PAUSE,        TOXAV_CALL_CONTROL_CANCEL,
        TOXAV_CALL_CONTROL_MUTE_AUDIO, TOXAV_CALL_CONTROL_UNMUTE_AUDIO, TOXAV_CALL_CONTROL_HIDE_VIDEO,
        TOXAV_CALL_CONTROL_SHOW_VIDEO, (Toxav_Call_Control)99,
    };
    bool not_in_call = true;
    for (size_t i = 0; i < sizeof controls / sizeof controls[0]; ++i) {
        Toxav_Err_Call_Control control = TOXAV_ERR_CALL_CONTROL_OK;
        not_in_call = not_in_call && !toxav_call_control(av, 0, controls[i], &control)
                      && control == TOXAV_ERR_CALL_CONTROL_FRIEND_NOT_IN_CALL;
    }
    CHECK(not_in_call);
    Toxav_Err_Call_Control control = TOXAV_ERR_CALL_CONTROL_OK;
    CHECK(!toxav_call_control(NULL, 0, TOXAV_CALL_CONTROL_CANCEL, &control));
    CHECK(control == TOXAV_ERR_CALL_CONTROL_SYNC);
    CHECK(!toxav_call_control(av, 0, TOXAV_CALL_CONTROL_CANCEL, NULL));

    Toxav_Err_Bit_Rate_Set rate = TOXAV_ERR_BIT_RATE_SET_OK;
    CHECK(!toxav_audio_set_bit_rate(av, 0, 48, &rate));
    CHECK(rate == TOXAV_ERR_BIT_RATE_SET_FRIEND_NOT_IN_CALL);
    rate = TOXAV_ERR_BIT_RATE_SET_OK;
    CHECK(!toxav_video_set_bit_rate(av, 0, 5000, &rate));
    CHECK(rate == TOXAV_ERR_BIT_RATE_SET_FRIEND_NOT_IN_CALL);
    CHECK(!toxav_audio_set_bit_rate(NULL, 0, 48, &rate));
    CHECK(rate == TOXAV_ERR_BIT_RATE_SET_SYNC);
    rate = TOXAV_ERR_BIT_RATE_SET_OK;
    CHECK(!toxav_video_set_bit_rate(NULL, 0, 5000, &rate));
    CHECK(rate == TOXAV_ERR_BIT_RATE_SET_SYNC);
    CHECK(!toxav_audio_set_bit_rate(av, 0, 48, NULL));
}

static void check_frames(ToxAV *av)
{
    int16_t pcm[960 * 2];
    memset(pcm, 0, sizeof pcm);
    uint8_t y[16 * 16], u[8 * 8], v[8 * 8];
    memset(y, 0, sizeof y), memset(u, 0, sizeof u), memset(v, 0, sizeof v);

    Toxav_Err_Send_Frame err = TOXAV_ERR_SEND_FRAME_OK;
    CHECK(!toxav_audio_send_frame(av, 0, pcm, 960, 2, 48000, &err));
    CHECK(err == TOXAV_ERR_SEND_FRAME_FRIEND_NOT_IN_CALL);
    err = TOXAV_ERR_SEND_FRAME_OK;
    CHECK(!toxav_audio_send_frame(av, 0, NULL, 960, 2, 48000, &err));
    CHECK(err == TOXAV_ERR_SEND_FRAME_FRIEND_NOT_IN_CALL);
    CHECK(!toxav_audio_send_frame(NULL, 0, pcm, 960, 2, 48000, &err));
    CHECK(err == TOXAV_ERR_SEND_FRAME_NULL);

    err = TOXAV_ERR_SEND_FRAME_OK;
    CHECK(!toxav_video_send_frame(av, 0, 16, 16, y, u, v, &err));
    CHECK(err == TOXAV_ERR_SEND_FRAME_FRIEND_NOT_IN_CALL);
    err = TOXAV_ERR_SEND_FRAME_OK;
    CHECK(!toxav_video_send_frame(av, 0, 16, 16, NULL, NULL, NULL, &err));
    CHECK(err == TOXAV_ERR_SEND_FRAME_FRIEND_NOT_IN_CALL);
    CHECK(!toxav_video_send_frame(NULL, 0, 16, 16, y, u, v, &err));
    CHECK(err == TOXAV_ERR_SEND_FRAME_NULL);
    CHECK(!toxav_video_send_frame(av, 0, 16, 16, y, u, v, NULL));
}

/* ---- old A/V conferences fail ------------------------------------------------------ */

static void check_groups(void)
{
    static const uint8_t invite[] = {1, 2, 3};
    int16_t pcm[960];
    memset(pcm, 0, sizeof pcm);

    Tox *toxes[] = {DUMMY_TOX, NULL};
    for (size_t i = 0; i < 2; ++i) {
        Tox *tox = toxes[i];
        CHECK(toxav_add_av_groupchat(tox, on_group_audio, &fired) == -1);
        CHECK(toxav_add_av_groupchat(tox, NULL, NULL) == -1);
        CHECK(toxav_join_av_groupchat(tox, 0, invite, sizeof invite, on_group_audio, &fired) == -1);
        CHECK(toxav_join_av_groupchat(tox, 0, NULL, 0, NULL, NULL) == -1);
        CHECK(toxav_group_send_audio(tox, 0, pcm, 960, 1, 48000) == -1);
        CHECK(toxav_groupchat_enable_av(tox, 0, on_group_audio, &fired) == -1);
        CHECK(toxav_groupchat_disable_av(tox, 0) == -1);
        CHECK(!toxav_groupchat_av_enabled(tox, 0));
    }
    CHECK(fired == 0);
}

/* ---- enums ------------------------------------------------------------------------------ */

static void print_enums(void)
{
#define TOXIDE_ENUM(tag) printf("ENUM %s %zu\n", #tag, sizeof(enum tag));
#define TOXIDE_CONST(name) printf("CONST %s %lld\n", #name, (long long)(name));
#include "toxide_av_enums.h"
#undef TOXIDE_ENUM
#undef TOXIDE_CONST
}

int main(void)
{
    Dl_info info;
    if (dladdr((void *)toxav_new, &info) != 0 && info.dli_fname != NULL) {
        printf("LIB %s\n", info.dli_fname);
    }

    check_new_and_kill();

    ToxAV *av = toxav_new(DUMMY_TOX, NULL);
    CHECK(av != NULL);
    if (av != NULL) {
        check_iteration_and_callbacks(av);
        check_calls(av);
        check_frames(av);
        iterate_all(av);
        CHECK(toxav_get_tox(av) == DUMMY_TOX);
        toxav_kill(av);
    }
    check_groups();
    CHECK(fired == 0);
    print_enums();

    printf("DONE %u %u\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
