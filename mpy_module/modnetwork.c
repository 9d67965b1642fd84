// Module `network` with class `LoRa` (Pycom's API). The unix and qemu ports have no network
// module of their own, so this one is registered under that name.

#include "py/runtime.h"
#include "pymesh_shim.h"

MP_NORETURN void pymesh_raise(const pymesh_error *err) {
    const mp_obj_type_t *type = &mp_type_OSError;
    if (err->kind == PYMESH_ERROR_KIND_VALUE_ERROR) {
        type = &mp_type_ValueError;
    } else if (err->message_len == 0) {
        mp_raise_OSError(err->os_errno);
    }
    mp_raise_msg_varg(type, MP_ERROR_TEXT("%.*s"), (int)err->message_len, (const char *)err->message);
}

void pymesh_shim_board_init(void) {
    static bool done = false;
    if (!done) {
        pymesh_board_init();
        done = true;
    }
}

static const mp_rom_map_elem_t network_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_network) },
    { MP_ROM_QSTR(MP_QSTR_LoRa), MP_ROM_PTR(&pymesh_lora_type) },
    // What socket.socket(AF_LORA, SOCK_RAW) creates (frozen socket.py).
    { MP_ROM_QSTR(MP_QSTR__MeshSocket), MP_ROM_PTR(&pymesh_socket_type) },
};
static MP_DEFINE_CONST_DICT(network_module_globals, network_module_globals_table);

const mp_obj_module_t pymesh_network_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&network_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_network, pymesh_network_module);
