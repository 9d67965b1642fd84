// network.LoRa: argument parsing and constants. Validation happens in Rust (pymesh_lora_init),
// which also writes the error messages.

#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "pymesh_shim.h"

typedef struct _pymesh_lora_obj_t {
    mp_obj_base_t base;
} pymesh_lora_obj_t;

// There is one LoRa radio: LoRa(...) reconfigures and returns the same object, as on Pycom boards.
static const pymesh_lora_obj_t pymesh_lora_obj = { { &pymesh_lora_type } };

enum {
    ARG_id, ARG_mode, ARG_region, ARG_frequency, ARG_tx_power, ARG_bandwidth, ARG_sf, ARG_preamble,
    ARG_coding_rate, ARG_power_mode, ARG_tx_iq, ARG_rx_iq, ARG_adr, ARG_public, ARG_tx_retries,
    ARG_device_class,
};

static const mp_arg_t lora_init_args[] = {
    { MP_QSTR_id, MP_ARG_INT, {.u_int = 0} },
    { MP_QSTR_mode, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
    { MP_QSTR_region, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    { MP_QSTR_frequency, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    { MP_QSTR_tx_power, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    { MP_QSTR_bandwidth, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
    { MP_QSTR_sf, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 7} },
    { MP_QSTR_preamble, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 8} },
    { MP_QSTR_coding_rate, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 1} },
    { MP_QSTR_power_mode, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
    { MP_QSTR_tx_iq, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    { MP_QSTR_rx_iq, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    { MP_QSTR_adr, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
    { MP_QSTR_public, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
    { MP_QSTR_tx_retries, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 2} },
    { MP_QSTR_device_class, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
};

static mp_obj_t lora_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    mp_arg_val_t args[MP_ARRAY_SIZE(lora_init_args)];
    mp_map_t kw_args;
    mp_map_init_fixed_table(&kw_args, n_kw, all_args + n_args);
    mp_arg_parse_all(n_args, all_args, &kw_args, MP_ARRAY_SIZE(lora_init_args), lora_init_args, args);

    pymesh_lora_params p;
    memset(&p, 0, sizeof(p));
    p.id = args[ARG_id].u_int;
    p.mode = args[ARG_mode].u_int;
    p.region_given = args[ARG_region].u_obj != MP_OBJ_NULL && args[ARG_region].u_obj != mp_const_none;
    p.region = p.region_given ? mp_obj_get_int(args[ARG_region].u_obj) : 0;
    p.frequency_given = args[ARG_frequency].u_obj != MP_OBJ_NULL && args[ARG_frequency].u_obj != mp_const_none;
    p.frequency = p.frequency_given ? mp_obj_get_int(args[ARG_frequency].u_obj) : 0;
    p.tx_power_given = args[ARG_tx_power].u_obj != MP_OBJ_NULL && args[ARG_tx_power].u_obj != mp_const_none;
    p.tx_power = p.tx_power_given ? mp_obj_get_int(args[ARG_tx_power].u_obj) : 0;
    p.bandwidth = args[ARG_bandwidth].u_int;
    p.sf = args[ARG_sf].u_int;
    p.preamble = args[ARG_preamble].u_int;
    p.coding_rate = args[ARG_coding_rate].u_int;
    p.power_mode = args[ARG_power_mode].u_int;
    p.tx_iq = args[ARG_tx_iq].u_bool;
    p.rx_iq = args[ARG_rx_iq].u_bool;
    p.adr = args[ARG_adr].u_bool;
    p.public_ = args[ARG_public].u_bool;
    p.tx_retries = args[ARG_tx_retries].u_int;
    p.device_class = args[ARG_device_class].u_int;

    pymesh_shim_board_init();
    pymesh_error err;
    if (!pymesh_lora_init(&p, &err)) {
        pymesh_raise(&err);
    }
    return MP_OBJ_FROM_PTR(&pymesh_lora_obj);
}

// lora.mac(): the node's EUI-64 as 8 bytes.
static mp_obj_t lora_mac(mp_obj_t self_in) {
    uint8_t mac[8];
    if (!pymesh_lora_mac(mac)) {
        mp_raise_OSError(MP_ENODEV);
    }
    return mp_obj_new_bytes(mac, sizeof(mac));
}
static MP_DEFINE_CONST_FUN_OBJ_1(lora_mac_obj, lora_mac);

// lora.Mesh(*, key=b'...'): starts (or returns the running) mesh.
static mp_obj_t lora_mesh(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed[] = {
        { MP_QSTR_key, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    const uint8_t *key = NULL;
    size_t key_len = 0;
    if (args[0].u_obj != mp_const_none) {
        mp_buffer_info_t buf;
        mp_get_buffer_raise(args[0].u_obj, &buf, MP_BUFFER_READ);
        key = buf.buf;
        key_len = buf.len;
    }
    return pymesh_mesh_get(key, key_len);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(lora_mesh_obj, 1, lora_mesh);

static const mp_rom_map_elem_t lora_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_mac), MP_ROM_PTR(&lora_mac_obj) },
    { MP_ROM_QSTR(MP_QSTR_Mesh), MP_ROM_PTR(&lora_mesh_obj) },

    // Constants, with Pycom's values (pycom-behaviour.md).
    { MP_ROM_QSTR(MP_QSTR_LORA), MP_ROM_INT(0) },
    { MP_ROM_QSTR(MP_QSTR_LORAWAN), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_OTAA), MP_ROM_INT(0) },
    { MP_ROM_QSTR(MP_QSTR_ABP), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_ALWAYS_ON), MP_ROM_INT(0) },
    { MP_ROM_QSTR(MP_QSTR_TX_ONLY), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_SLEEP), MP_ROM_INT(2) },
    { MP_ROM_QSTR(MP_QSTR_BW_125KHZ), MP_ROM_INT(0) },
    { MP_ROM_QSTR(MP_QSTR_BW_250KHZ), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_BW_500KHZ), MP_ROM_INT(2) },
    { MP_ROM_QSTR(MP_QSTR_CODING_4_5), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_CODING_4_6), MP_ROM_INT(2) },
    { MP_ROM_QSTR(MP_QSTR_CODING_4_7), MP_ROM_INT(3) },
    { MP_ROM_QSTR(MP_QSTR_CODING_4_8), MP_ROM_INT(4) },
    { MP_ROM_QSTR(MP_QSTR_RX_PACKET_EVENT), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_TX_PACKET_EVENT), MP_ROM_INT(2) },
    { MP_ROM_QSTR(MP_QSTR_TX_FAILED_EVENT), MP_ROM_INT(4) },
    { MP_ROM_QSTR(MP_QSTR_CLASS_A), MP_ROM_INT(0) },
    { MP_ROM_QSTR(MP_QSTR_CLASS_C), MP_ROM_INT(2) },
    { MP_ROM_QSTR(MP_QSTR_AS923), MP_ROM_INT(0) },
    { MP_ROM_QSTR(MP_QSTR_AU915), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_CN470), MP_ROM_INT(2) },
    { MP_ROM_QSTR(MP_QSTR_EU433), MP_ROM_INT(4) },
    { MP_ROM_QSTR(MP_QSTR_EU868), MP_ROM_INT(5) },
    { MP_ROM_QSTR(MP_QSTR_IN865), MP_ROM_INT(7) },
    { MP_ROM_QSTR(MP_QSTR_US915), MP_ROM_INT(8) },
};
static MP_DEFINE_CONST_DICT(lora_locals_dict, lora_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    pymesh_lora_type,
    MP_QSTR_LoRa,
    MP_TYPE_FLAG_NONE,
    make_new, lora_make_new,
    locals_dict, &lora_locals_dict
    );
