// LoRa.Mesh: the Pymesh object. Each method asks the Rust core and converts the answer:
// ints, lists of strings, attrtuples with Pycom's field names.

#include "py/runtime.h"
#include "py/objtuple.h"
#include "py/mphal.h"
#include "py/mperrno.h"
#include "pymesh_shim.h"

typedef struct _pymesh_mesh_obj_t {
    mp_obj_base_t base;
} pymesh_mesh_obj_t;

// The Mesh object is a singleton held from C, so it is a root pointer for the GC.
MP_REGISTER_ROOT_POINTER(struct _pymesh_mesh_obj_t *pymesh_mesh);

#define PYMESH_TABLE_MAX (64)

mp_obj_t pymesh_mesh_get(const uint8_t *key, size_t key_len) {
    pymesh_error err;
    if (!pymesh_mesh_start(key, key_len, &err)) {
        pymesh_raise(&err);
    }
    if (MP_STATE_VM(pymesh_mesh) == NULL) {
        pymesh_mesh_obj_t *self = mp_obj_malloc(pymesh_mesh_obj_t, &pymesh_mesh_type);
        MP_STATE_VM(pymesh_mesh) = self;
    }
    return MP_OBJ_FROM_PTR(MP_STATE_VM(pymesh_mesh));
}

static mp_obj_t mesh_deinit(mp_obj_t self_in) {
    return mp_obj_new_bool(pymesh_mesh_deinit());
}
static MP_DEFINE_CONST_FUN_OBJ_1(mesh_deinit_obj, mesh_deinit);

static mp_obj_t mesh_state(mp_obj_t self_in) {
    return mp_obj_new_int(pymesh_mesh_state());
}
static MP_DEFINE_CONST_FUN_OBJ_1(mesh_state_obj, mesh_state);

static mp_obj_t mesh_single(mp_obj_t self_in) {
    return mp_obj_new_bool(pymesh_mesh_single());
}
static MP_DEFINE_CONST_FUN_OBJ_1(mesh_single_obj, mesh_single);

static mp_obj_t mesh_rloc(mp_obj_t self_in) {
    return mp_obj_new_int(pymesh_mesh_rloc());
}
static MP_DEFINE_CONST_FUN_OBJ_1(mesh_rloc_obj, mesh_rloc);

static mp_obj_t ip6_str(const pymesh_ip6 *a) {
    char buf[48];
    size_t n = pymesh_ip6_format(a, (uint8_t *)buf, sizeof(buf));
    return mp_obj_new_str(buf, n);
}

static mp_obj_t mesh_ipaddr(mp_obj_t self_in) {
    pymesh_ip6 addrs[16];
    size_t n = pymesh_mesh_ipaddr(addrs, MP_ARRAY_SIZE(addrs));
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < n; i++) {
        mp_obj_list_append(list, ip6_str(&addrs[i]));
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mesh_ipaddr_obj, mesh_ipaddr);

static const qstr leader_fields[] = { MP_QSTR_part_id, MP_QSTR_mac, MP_QSTR_rloc16 };

static mp_obj_t mesh_leader(mp_obj_t self_in) {
    pymesh_leader l;
    if (!pymesh_mesh_leader(&l)) {
        return mp_const_none;
    }
    mp_obj_t items[3] = {
        mp_obj_new_int_from_uint(l.part_id),
        mp_obj_new_int_from_ull(l.mac),
        mp_obj_new_int(l.rloc16),
    };
    return mp_obj_new_attrtuple(leader_fields, 3, items);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mesh_leader_obj, mesh_leader);

static const qstr router_fields[] = { MP_QSTR_mac, MP_QSTR_rloc16, MP_QSTR_id, MP_QSTR_path_cost, MP_QSTR_age };

static mp_obj_t mesh_routers(mp_obj_t self_in) {
    pymesh_router rows[PYMESH_TABLE_MAX];
    size_t n = pymesh_mesh_routers(rows, PYMESH_TABLE_MAX);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < n; i++) {
        mp_obj_t items[5] = {
            mp_obj_new_int_from_ull(rows[i].mac),
            mp_obj_new_int(rows[i].rloc16),
            mp_obj_new_int(rows[i].id),
            mp_obj_new_int(rows[i].path_cost),
            mp_obj_new_int_from_uint(rows[i].age),
        };
        mp_obj_list_append(list, mp_obj_new_attrtuple(router_fields, 5, items));
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mesh_routers_obj, mesh_routers);

static const qstr neighbor_fields[] = { MP_QSTR_mac, MP_QSTR_role, MP_QSTR_rloc16, MP_QSTR_rssi, MP_QSTR_age };

static mp_obj_t mesh_neighbors(mp_obj_t self_in) {
    pymesh_neighbor rows[PYMESH_TABLE_MAX];
    size_t n = pymesh_mesh_neighbors(rows, PYMESH_TABLE_MAX);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < n; i++) {
        mp_obj_t items[5] = {
            mp_obj_new_int_from_ull(rows[i].mac),
            mp_obj_new_int(rows[i].role),
            mp_obj_new_int(rows[i].rloc16),
            mp_obj_new_int(rows[i].rssi),
            mp_obj_new_int_from_uint(rows[i].age),
        };
        mp_obj_list_append(list, mp_obj_new_attrtuple(neighbor_fields, 5, items));
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mesh_neighbors_obj, mesh_neighbors);

// rx_cb(handler, arg): handler(arg) once per datagram queued on a mesh socket, run by the
// scheduler in the VM's context (never on the mesh thread or in an IRQ). An exception in the
// handler is printed and later callbacks still run (the original stopped calling them).
MP_REGISTER_ROOT_POINTER(mp_obj_t pymesh_rx_handler);
MP_REGISTER_ROOT_POINTER(mp_obj_t pymesh_rx_arg);

#if MICROPY_ENABLE_SCHEDULER
static volatile uint32_t rx_pending;
static volatile bool rx_scheduled;

static mp_obj_t rx_dispatch(mp_obj_t unused) {
    for (;;) {
        mp_uint_t state = MICROPY_BEGIN_ATOMIC_SECTION();
        bool more = rx_pending > 0;
        if (more) {
            rx_pending--;
        } else {
            rx_scheduled = false;
        }
        MICROPY_END_ATOMIC_SECTION(state);
        if (!more) {
            break;
        }
        mp_obj_t handler = MP_STATE_VM(pymesh_rx_handler);
        if (handler == MP_OBJ_NULL || handler == mp_const_none) {
            continue;
        }
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            mp_call_function_1(handler, MP_STATE_VM(pymesh_rx_arg));
            nlr_pop();
        } else {
            mp_printf(&mp_plat_print, "rx_cb handler raised an exception:\n");
            mp_obj_print_exception(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val));
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(rx_dispatch_obj, rx_dispatch);

// Called by the core after a poll that queued datagrams (mesh thread on unix).
static void rx_notify(uint32_t queued) {
    mp_uint_t state = MICROPY_BEGIN_ATOMIC_SECTION();
    rx_pending += queued;
    bool schedule = !rx_scheduled;
    rx_scheduled = true;
    MICROPY_END_ATOMIC_SECTION(state);
    if (schedule && !mp_sched_schedule(MP_OBJ_FROM_PTR(&rx_dispatch_obj), mp_const_none)) {
        rx_scheduled = false; // scheduler queue full: the next notification tries again
    }
}

static mp_obj_t mesh_rx_cb(mp_obj_t self_in, mp_obj_t handler, mp_obj_t arg) {
    if (handler != mp_const_none && !mp_obj_is_callable(handler)) {
        mp_raise_TypeError(MP_ERROR_TEXT("rx_cb handler must be callable or None"));
    }
    MP_STATE_VM(pymesh_rx_handler) = handler;
    MP_STATE_VM(pymesh_rx_arg) = arg;
    pymesh_set_rx_callback(handler == mp_const_none ? NULL : rx_notify);
    return MP_OBJ_NEW_SMALL_INT(pymesh_mesh_running() ? 1 : 0);
}
static MP_DEFINE_CONST_FUN_OBJ_3(mesh_rx_cb_obj, mesh_rx_cb);
#endif

// cli(cmd): OpenThread's CLI text for cmd, without the final "Done" (as Pycom returned it).
// A ping waits for its reply line and statistics (or the core's deadline), letting the mesh
// run meanwhile.
static mp_obj_t mesh_cli(mp_obj_t self_in, mp_obj_t cmd_in) {
    size_t len;
    const char *cmd = mp_obj_str_get_data(cmd_in, &len);
    vstr_t vstr;
    vstr_init(&vstr, 2048);
    bool pending = false;
    vstr.len = pymesh_cli((const uint8_t *)cmd, len, (uint8_t *)vstr.buf, vstr.alloc, &pending);
    while (pending) {
        // Ports without a mesh thread make progress here; with one, this is harmless.
        pymesh_poll();
        #if MICROPY_PY_TIME
        mp_hal_delay_ms(20);
        #endif
        char line[320];
        size_t n = pymesh_cli_wait((uint8_t *)line, sizeof(line), &pending);
        vstr_add_strn(&vstr, line, n);
    }
    return mp_obj_new_str_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_2(mesh_cli_obj, mesh_cli);

// border_router(): our prefixes as [(net, preference)]; border_router(net, pref): announce
// net (e.g. "2001:cafe:cafe:cafe::/64") with preference -1, 0 or 1; returns 0.
static const qstr br_fields[] = { MP_QSTR_net, MP_QSTR_preference };

static mp_obj_t mesh_border_router(size_t n_args, const mp_obj_t *args) {
    if (n_args == 1) {
        mp_obj_t list = mp_obj_new_list(0, NULL);
        for (size_t i = 0;; i++) {
            char text[64];
            int32_t pref = 0;
            size_t n = pymesh_border_router_get(i, (uint8_t *)text, sizeof(text), &pref);
            if (n == 0) {
                break;
            }
            mp_obj_t items[2] = { mp_obj_new_str(text, n), mp_obj_new_int(pref) };
            mp_obj_list_append(list, mp_obj_new_attrtuple(br_fields, 2, items));
        }
        return list;
    }
    if (n_args != 3) {
        mp_raise_TypeError(MP_ERROR_TEXT("border_router() or border_router(net, preference)"));
    }
    size_t len;
    const char *net = mp_obj_str_get_data(args[1], &len);
    int r = pymesh_border_router_add((const uint8_t *)net, len, mp_obj_get_int(args[2]));
    if (r == -MP_EINVAL) {
        mp_raise_ValueError(MP_ERROR_TEXT("net must be an IPv6 prefix like '2001:db8::/64' and preference -1, 0 or 1"));
    } else if (r < 0) {
        mp_raise_OSError(-r);
    }
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mesh_border_router_obj, 1, 3, mesh_border_router);

// border_router_del(net): withdraw one of our prefixes (every node drops its SLAAC address).
static mp_obj_t mesh_border_router_del(mp_obj_t self_in, mp_obj_t net_in) {
    size_t len;
    const char *net = mp_obj_str_get_data(net_in, &len);
    int r = pymesh_border_router_del((const uint8_t *)net, len);
    if (r == -MP_EINVAL) {
        mp_raise_ValueError(MP_ERROR_TEXT("net must be an IPv6 prefix like '2001:db8::/64'"));
    } else if (r < 0) {
        mp_raise_OSError(-r);
    }
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_2(mesh_border_router_del_obj, mesh_border_router_del);

#if !MICROPY_ENABLE_SCHEDULER
// Not implemented on ports without a scheduler (listed in the README).
static mp_obj_t mesh_not_implemented(size_t n_args, const mp_obj_t *args) {
    mp_raise_NotImplementedError(MP_ERROR_TEXT("not implemented yet: see README (Python API status)"));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mesh_not_implemented_obj, 1, 3, mesh_not_implemented);
#endif

static const mp_rom_map_elem_t mesh_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_deinit), MP_ROM_PTR(&mesh_deinit_obj) },
    { MP_ROM_QSTR(MP_QSTR_state), MP_ROM_PTR(&mesh_state_obj) },
    { MP_ROM_QSTR(MP_QSTR_single), MP_ROM_PTR(&mesh_single_obj) },
    { MP_ROM_QSTR(MP_QSTR_rloc), MP_ROM_PTR(&mesh_rloc_obj) },
    { MP_ROM_QSTR(MP_QSTR_ipaddr), MP_ROM_PTR(&mesh_ipaddr_obj) },
    { MP_ROM_QSTR(MP_QSTR_leader), MP_ROM_PTR(&mesh_leader_obj) },
    { MP_ROM_QSTR(MP_QSTR_routers), MP_ROM_PTR(&mesh_routers_obj) },
    { MP_ROM_QSTR(MP_QSTR_neighbors), MP_ROM_PTR(&mesh_neighbors_obj) },
    #if MICROPY_ENABLE_SCHEDULER
    { MP_ROM_QSTR(MP_QSTR_rx_cb), MP_ROM_PTR(&mesh_rx_cb_obj) },
    #else
    { MP_ROM_QSTR(MP_QSTR_rx_cb), MP_ROM_PTR(&mesh_not_implemented_obj) },
    #endif
    { MP_ROM_QSTR(MP_QSTR_border_router), MP_ROM_PTR(&mesh_border_router_obj) },
    { MP_ROM_QSTR(MP_QSTR_border_router_del), MP_ROM_PTR(&mesh_border_router_del_obj) },
    { MP_ROM_QSTR(MP_QSTR_cli), MP_ROM_PTR(&mesh_cli_obj) },
};
static MP_DEFINE_CONST_DICT(mesh_locals_dict, mesh_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    pymesh_mesh_type,
    MP_QSTR_Mesh,
    MP_TYPE_FLAG_NONE,
    locals_dict, &mesh_locals_dict
    );
