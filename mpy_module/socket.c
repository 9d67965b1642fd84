// socket.socket(socket.AF_LORA, socket.SOCK_RAW): a UDP socket over the mesh (Pycom's API:
// bind, sendto, recvfrom, close). The frozen socket.py creates it through
// network._MeshSocket(). Every call goes to the Rust core; this file converts and raises.

#include "py/runtime.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/stream.h"
#include "pymesh_shim.h"

typedef struct _pymesh_socket_obj_t {
    mp_obj_base_t base;
    int id; // -1 once closed
    // recvfrom's wait: 0 never blocks (Pycom's behaviour, the default), -1 blocks until a
    // datagram arrives, > 0 waits that many milliseconds then raises OSError(ETIMEDOUT).
    mp_int_t timeout_ms;
} pymesh_socket_obj_t;

static void raise_errno(int negated) {
    mp_raise_OSError(-negated);
}

static pymesh_socket_obj_t *open_socket(mp_obj_t self_in) {
    pymesh_socket_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->id < 0) {
        mp_raise_OSError(MP_EBADF);
    }
    return self;
}

// An IPv6 address string to the core's form; OSError(EAFNOSUPPORT) when it is not one, as
// Pycom did.
static void parse_ip6(mp_obj_t text, pymesh_ip6 *out) {
    size_t len;
    const char *s = mp_obj_str_get_data(text, &len);
    if (!pymesh_ip6_parse((const uint8_t *)s, len, out)) {
        mp_raise_OSError(MP_EAFNOSUPPORT);
    }
}

static mp_obj_t socket_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 0, false);
    int id = pymesh_socket_open();
    if (id < 0) {
        if (id == -MP_EBADF) {
            mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("the mesh is not running: call LoRa.Mesh() first"));
        }
        raise_errno(id);
    }
    // With a finaliser, so that the garbage collector closes forgotten sockets.
    pymesh_socket_obj_t *self = mp_obj_malloc_with_finaliser(pymesh_socket_obj_t, type);
    self->id = id;
    self->timeout_ms = 0;
    return MP_OBJ_FROM_PTR(self);
}

// bind(port) or bind((ip, port)).
static mp_obj_t socket_bind(mp_obj_t self_in, mp_obj_t arg) {
    pymesh_socket_obj_t *self = open_socket(self_in);
    pymesh_ip6 addr;
    const pymesh_ip6 *a = NULL;
    mp_int_t port;
    if (mp_obj_is_int(arg)) {
        port = mp_obj_get_int(arg);
    } else {
        mp_obj_t *items;
        mp_obj_get_array_fixed_n(arg, 2, &items);
        parse_ip6(items[0], &addr);
        a = &addr;
        port = mp_obj_get_int(items[1]);
    }
    int r = pymesh_socket_bind(self->id, a, port);
    if (r < 0) {
        raise_errno(r);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(socket_bind_obj, socket_bind);

// sendto(bytes, (ip, port)) -> number of bytes sent.
static mp_obj_t socket_sendto(mp_obj_t self_in, mp_obj_t data, mp_obj_t dest) {
    pymesh_socket_obj_t *self = open_socket(self_in);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(data, &buf, MP_BUFFER_READ);
    mp_obj_t *items;
    mp_obj_get_array_fixed_n(dest, 2, &items);
    pymesh_ip6 addr;
    parse_ip6(items[0], &addr);
    int r = pymesh_socket_sendto(self->id, buf.buf, buf.len, &addr, mp_obj_get_int(items[1]));
    if (r < 0) {
        raise_errno(r);
    }
    return mp_obj_new_int(r);
}
static MP_DEFINE_CONST_FUN_OBJ_3(socket_sendto_obj, socket_sendto);

// recvfrom(n) -> (bytes, (ip, port)); (b'', None) when nothing is queued (never blocks, as
// Pycom's did: scripts loop until len(data) == 0).
static mp_obj_t socket_recvfrom(mp_obj_t self_in, mp_obj_t len_in) {
    pymesh_socket_obj_t *self = open_socket(self_in);
    mp_int_t n = mp_obj_get_int(len_in);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("recvfrom size must be >= 0"));
    }
    // No datagram is longer than the core's maximum: recvfrom(10**6) allocates no more.
    if ((size_t)n > pymesh_socket_max_len()) {
        n = pymesh_socket_max_len();
    }
    vstr_t vstr;
    vstr_init_len(&vstr, n);
    pymesh_ip6 from;
    uint16_t port = 0;
    int r = pymesh_socket_recvfrom(self->id, (uint8_t *)vstr.buf, n, &from, &port);
    #if MICROPY_PY_TIME
    mp_uint_t start = mp_hal_ticks_ms();
    while (r == -MP_EAGAIN && self->timeout_ms != 0) {
        if (self->timeout_ms > 0 && (mp_int_t)(mp_hal_ticks_ms() - start) >= self->timeout_ms) {
            vstr_clear(&vstr);
            mp_raise_OSError(MP_ETIMEDOUT);
        }
        // Lets scheduled callbacks and Ctrl-C run while waiting.
        mp_event_wait_ms(10);
        r = pymesh_socket_recvfrom(self->id, (uint8_t *)vstr.buf, n, &from, &port);
    }
    #endif
    if (r == -MP_EAGAIN) {
        vstr_clear(&vstr);
        mp_obj_t items[2] = { mp_const_empty_bytes, mp_const_none };
        return mp_obj_new_tuple(2, items);
    }
    if (r < 0) {
        vstr_clear(&vstr);
        raise_errno(r);
    }
    vstr.len = r;
    char text[48];
    size_t tlen = pymesh_ip6_format(&from, (uint8_t *)text, sizeof(text));
    mp_obj_t addr[2] = { mp_obj_new_str(text, tlen), mp_obj_new_int(port) };
    mp_obj_t items[2] = { mp_obj_new_bytes_from_vstr(&vstr), mp_obj_new_tuple(2, addr) };
    return mp_obj_new_tuple(2, items);
}
static MP_DEFINE_CONST_FUN_OBJ_2(socket_recvfrom_obj, socket_recvfrom);

// close(): idempotent; also run by the garbage collector (__del__).
static mp_obj_t socket_close(mp_obj_t self_in) {
    pymesh_socket_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->id >= 0) {
        pymesh_socket_close(self->id);
        self->id = -1;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(socket_close_obj, socket_close);

// settimeout(None | seconds): recvfrom waits (None: for ever; 0: never, Pycom's default).
static mp_obj_t socket_settimeout(mp_obj_t self_in, mp_obj_t timeout) {
    pymesh_socket_obj_t *self = open_socket(self_in);
    if (timeout == mp_const_none) {
        self->timeout_ms = -1;
    } else {
        #if MICROPY_PY_BUILTINS_FLOAT
        mp_float_t t = mp_obj_get_float(timeout);
        #else
        mp_int_t t = mp_obj_get_int(timeout);
        #endif
        if (t < 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("timeout must be >= 0 or None"));
        }
        self->timeout_ms = (mp_int_t)(t * 1000);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(socket_settimeout_obj, socket_settimeout);

// setblocking(flag): True is settimeout(None), False is settimeout(0).
static mp_obj_t socket_setblocking(mp_obj_t self_in, mp_obj_t flag) {
    pymesh_socket_obj_t *self = open_socket(self_in);
    self->timeout_ms = mp_obj_is_true(flag) ? -1 : 0;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(socket_setblocking_obj, socket_setblocking);

// select.poll support: readable when a datagram is queued; always writable.
static mp_uint_t socket_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    pymesh_socket_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (request == MP_STREAM_POLL) {
        if (self->id < 0) {
            return MP_STREAM_POLL_NVAL;
        }
        mp_uint_t ret = arg & MP_STREAM_POLL_WR;
        if ((arg & MP_STREAM_POLL_RD) && pymesh_socket_pending(self->id) > 0) {
            ret |= MP_STREAM_POLL_RD;
        }
        return ret;
    } else if (request == MP_STREAM_CLOSE) {
        socket_close(self_in);
        return 0;
    }
    *errcode = MP_EINVAL;
    return MP_STREAM_ERROR;
}

static const mp_stream_p_t socket_stream_p = {
    .ioctl = socket_ioctl,
};

static const mp_rom_map_elem_t socket_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_bind), MP_ROM_PTR(&socket_bind_obj) },
    { MP_ROM_QSTR(MP_QSTR_sendto), MP_ROM_PTR(&socket_sendto_obj) },
    { MP_ROM_QSTR(MP_QSTR_recvfrom), MP_ROM_PTR(&socket_recvfrom_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&socket_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&socket_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_settimeout), MP_ROM_PTR(&socket_settimeout_obj) },
    { MP_ROM_QSTR(MP_QSTR_setblocking), MP_ROM_PTR(&socket_setblocking_obj) },
};
static MP_DEFINE_CONST_DICT(socket_locals_dict, socket_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    pymesh_socket_type,
    MP_QSTR_MeshSocket,
    MP_TYPE_FLAG_NONE,
    make_new, socket_make_new,
    protocol, &socket_stream_p,
    locals_dict, &socket_locals_dict
    );
